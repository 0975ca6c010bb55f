package taxonomy

import (
	"slices"
	"testing"
)

// FuzzReason: any input gives a word of the vocabulary, never a panic, and
// the same word when asked again (the memo agrees with the rules).
func FuzzReason(f *testing.F) {
	f.Add("apns", "device", 410, "Unregistered")
	f.Add("huawei", "channel", 80300007, "token invalid")
	f.Add("xiaomi", "device", 20301, "No valid targets!")
	f.Add("oppo", "channel", 11, "Invalid AuthToken")
	f.Add("unknown", "offline", -1, "token not uploaded")
	f.Add("", "", 0, "\xff\xfe通知开关")
	tab := Default()
	f.Fuzz(func(t *testing.T, platform, stage string, code int, info string) {
		got := tab.Reason(platform, stage, code, info)
		if !slices.Contains(vocabulary, got) {
			t.Fatalf("Reason(%q, %q, %d, %q) = %q, not in the vocabulary", platform, stage, code, info, got)
		}
		if again := tab.Reason(platform, stage, code, info); again != got {
			t.Fatalf("Reason changed from %s to %s on a second call", got, again)
		}
	})
}
