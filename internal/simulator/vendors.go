package simulator

import "math/rand/v2"

// numPlatforms covers PushPlatform 0 (unknown / online only) to 8 (Honor).
const numPlatforms = 9

// vendorErr is an error a vendor channel reports, with its relative weight
// among that vendor's errors.
type vendorErr struct {
	code   int
	info   string
	weight float64
}

// vendor describes the devices and failures of one PushPlatform. Codes and
// texts follow the vendors' public error tables where we know them (Huawei
// 80300007 / 80100003 / 503, Xiaomi 20301 / 10034 / 65003, APNs 400 / 410 /
// 429, FCM 404 / 429, OPPO 11 / 33, vivo 10302 / 10070); Meizu's and a few
// texts are plausible stand-ins. Clients must never rely on the texts.
type vendor struct {
	platform   int
	name       string
	weight     float64 // share of instances
	deviceFail float64 // default P(device stage fails | channel accepted)
	system     string
	models     []string
	versions   []string
	tokenHead  string
	tokenLen   int
	channel    []vendorErr // failures when submitting to the vendor
	device     []vendorErr // failures reported for delivery to the device
}

var (
	apnsBadToken   = vendorErr{400, "BadDeviceToken", 3}
	apnsGone       = vendorErr{410, "Unregistered", 4}
	apnsTooMany    = vendorErr{429, "TooManyRequests", 1}
	miRegid        = vendorErr{20301, "regid invalid", 4}
	miQuota        = vendorErr{10034, "too many messages sent by the app today", 1}
	hwToken        = vendorErr{80300007, "token invalid", 4}
	hwBody         = vendorErr{80100003, "message body illegal", 2}
	hwFlow         = vendorErr{503, "traffic control", 1}
	fcmUnreg       = vendorErr{404, "UNREGISTERED", 4}
	fcmQuota       = vendorErr{429, "QUOTA_EXCEEDED", 1}
	meizuPushID    = vendorErr{110002, "pushId invalid", 4}
	meizuFrequency = vendorErr{110010, "request frequency over the limit", 1}
	oppoRegID      = vendorErr{11, "register id invalid", 4}
	oppoQuota      = vendorErr{33, "daily push quota exceeded", 1}
	vivoRegID      = vendorErr{10302, "regId invalid", 4}
	vivoQuota      = vendorErr{10070, "daily push quota exceeded", 1}
)

// vendors is indexed by PushPlatform. Weights add up to 1.
var vendors = [numPlatforms]vendor{
	{platform: 0, name: "online", weight: 0.05, system: "Android",
		models: []string{"", "M2102J2SC", "SM-S9180", "V2309A"}, versions: []string{"", "13", "14"}},
	{platform: 1, name: "apns", weight: 0.15, deviceFail: 0.04, system: "APNS",
		models: []string{"iPhone14,5", "iPhone15,2", "iPhone16,1", "iPhone16,2", ""}, versions: []string{"16.7.8", "17.5.1", "18.1", "18.3.2"},
		tokenLen: 64,
		channel:  []vendorErr{apnsBadToken, apnsGone, apnsTooMany},
		device:   []vendorErr{{410, "Unregistered", 6}, {400, "BadDeviceToken", 2}, apnsTooMany}},
	{platform: 2, name: "xiaomi", weight: 0.16, deviceFail: 0.08, system: "Android",
		models: []string{"Xiaomi 14", "23127PN0CC", "Redmi K70", "M2012K11AC"}, versions: []string{"12", "13", "14"},
		tokenHead: "", tokenLen: 64,
		channel: []vendorErr{miRegid, miQuota, {10017, "invalid parameter value", 1}},
		device:  []vendorErr{{20301, "regid invalid", 5}, {65003, "device not found", 3}, miQuota}},
	{platform: 3, name: "huawei", weight: 0.24, deviceFail: 0.15, system: "Android",
		models: []string{"ALN-AL00", "HUAWEI Mate 60 Pro", "NOH-AN00", "JAD-AL50"}, versions: []string{"10", "12", "HarmonyOS 4.2"},
		tokenHead: "IQAAAACy0", tokenLen: 120,
		channel: []vendorErr{hwToken, hwBody, hwFlow, {80300002, "no permission to send to the token", 1}},
		device:  []vendorErr{{80300007, "token invalid", 5}, hwFlow, {80100003, "message body illegal", 1}}},
	{platform: 4, name: "fcm", weight: 0.05, deviceFail: 0.05, system: "Android",
		models: []string{"Pixel 8", "Pixel 7a", "SM-S9180", "SM-A546B"}, versions: []string{"13", "14", "15"},
		tokenHead: "d", tokenLen: 150,
		channel: []vendorErr{fcmUnreg, {400, "INVALID_ARGUMENT", 2}, fcmQuota},
		device:  []vendorErr{{404, "UNREGISTERED", 5}, fcmQuota}},
	{platform: 5, name: "meizu", weight: 0.02, deviceFail: 0.12, system: "Android",
		models: []string{"MEIZU 21", "MEIZU 20", "M2381"}, versions: []string{"13", "14"},
		tokenHead: "ULY", tokenLen: 40,
		channel: []vendorErr{meizuPushID, meizuFrequency},
		device:  []vendorErr{{110002, "pushId invalid", 5}, meizuFrequency}},
	{platform: 6, name: "oppo", weight: 0.13, deviceFail: 0.10, system: "Android",
		models: []string{"PHB110", "PJD110", "CPH2581", "PGEM10"}, versions: []string{"12", "13", "14"},
		tokenHead: "CN_", tokenLen: 48,
		channel: []vendorErr{oppoRegID, oppoQuota, {10000, "system error", 1}},
		device:  []vendorErr{{11, "register id invalid", 5}, oppoQuota}},
	{platform: 7, name: "vivo", weight: 0.13, deviceFail: 0.10, system: "Android",
		models: []string{"V2309A", "V2324A", "V2241A", "V2156A"}, versions: []string{"12", "13", "14"},
		tokenHead: "v2-", tokenLen: 40,
		channel: []vendorErr{vivoRegID, vivoQuota, {10055, "message content illegal", 1}},
		device:  []vendorErr{{10302, "regId invalid", 5}, vivoQuota}},
	{platform: 8, name: "honor", weight: 0.07, deviceFail: 0.06, system: "Android",
		models: []string{"PGT-AN10", "ALI-AN00", "HONOR Magic6", "ELP-AN00"}, versions: []string{"12", "13", "14"},
		tokenHead: "AgEAAAA", tokenLen: 100,
		channel: []vendorErr{{80300007, "token invalid", 4}, {80100003, "message body illegal", 1}},
		device:  []vendorErr{{80300007, "token invalid", 5}, {80100003, "message body illegal", 1}}},
}

func vendorFor(platform int) *vendor {
	if platform < 0 || platform >= numPlatforms {
		return &vendors[0]
	}
	return &vendors[platform]
}

// pickVendor draws a platform by share of instances.
func pickVendor(r *rand.Rand) *vendor {
	x := r.Float64()
	for i := range vendors {
		x -= vendors[i].weight
		if x < 0 {
			return &vendors[i]
		}
	}
	return &vendors[len(vendors)-1]
}

func pickErr(r *rand.Rand, errs []vendorErr) vendorErr {
	total := 0.0
	for _, e := range errs {
		total += e.weight
	}
	x := r.Float64() * total
	for _, e := range errs {
		x -= e.weight
		if x < 0 {
			return e
		}
	}
	return errs[len(errs)-1]
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

const tokenAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// token returns a vendor-looking device token (APNs: lowercase hex).
func (v *vendor) token(r *rand.Rand) string {
	if v.tokenLen == 0 {
		return ""
	}
	alpha := tokenAlphabet
	if v.platform == 1 {
		alpha = tokenAlphabet[:16]
	}
	b := make([]byte, 0, v.tokenLen)
	b = append(b, v.tokenHead...)
	for len(b) < v.tokenLen {
		b = append(b, alpha[r.IntN(len(alpha))])
	}
	return string(b)
}
