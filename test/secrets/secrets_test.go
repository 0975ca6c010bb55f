// Package secrets proves that no secret — an app's secret_key, the webhook
// tokens, or a UserSig made from the key — appears in any log line (debug
// level included), HTTP reply, metric or error, by driving the real binary
// through every endpoint and every error path that could quote one.
package secrets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/exportertest"
	"github.com/timpush/timpush_exporter/internal/simulator"
)

const (
	goodKey       = "GoodSecretKey-7f3a9c1e5b2d4a6f8e0c"
	wrongKey      = "WrongSecretKey-0a1b2c3d4e5f6a7b8c9d" // the simulator knows another: every call fails 70009
	callbackToken = "CallbackToken-9c8b7a6d5e4f"
	bearerToken   = "BearerToken-1a2b3c4d5e6f"
)

func TestMain(m *testing.M) { exportertest.Main(m) }

func TestNoSecretLeaks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary")
	}
	bin := exportertest.Binary(t)
	dir := t.TempDir()

	// The simulator knows app 1 with goodKey and app 2 with a key the
	// exporter does not have. UserSigs it receives are recorded, and called
	// is closed once both apps have made the calls the test waits for.
	sim := simulator.New(simulator.Config{RateLimit: 20, Apps: []simulator.App{
		{SDKAppID: 1400000001, Identifier: "admin", SecretKey: goodKey},
		{SDKAppID: 1400000002, Identifier: "admin", SecretKey: "the-simulators-own-key-for-app-2"},
	}})
	var sigMu sync.Mutex
	usersigs := map[string]bool{}
	called := make(chan struct{})
	var calledOnce sync.Once
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.URL.Query().Get("usersig"); s != "" {
			sigMu.Lock()
			usersigs[s] = true
			sigMu.Unlock()
		}
		sim.Handler().ServeHTTP(w, r)
		if sim.Stats(1400000001).OK >= 3 && sim.Stats(1400000002).AuthFailures >= 1 {
			calledOnce.Do(func() { close(called) })
		}
	}))
	defer api.Close()

	for name, secret := range map[string]string{"good.key": goodKey, "wrong.key": wrongKey, "callback.token": callbackToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	config := fmt.Sprintf(`apps:
  - name: good
    sdkappid: 1400000001
    endpoint: %[1]s
    identifier: admin
    secret_key_file: good.key
    rate_limit: 20
    query_delay: 0s
    requery_after: []
  - name: wrong
    sdkappid: 1400000002
    endpoint: %[1]s
    identifier: admin
    secret_key: %[2]s
    rate_limit: 20
    query_delay: 0s
    requery_after: []
sources:
  files:
    - path: %[3]s/push*.log
      app: good
      start: beginning
  webhook:
    listen_address: 127.0.0.1:0
    tencent_callback_token_file: callback.token
    bearer_token: %[4]s
`, api.URL, wrongKey, dir, bearerToken)
	cfgPath := filepath.Join(dir, "timpush_exporter.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// seen is everything the outside world got from the exporter but its
	// log: replies and --config.check's output.
	var seen bytes.Buffer

	// --config.check, valid and invalid.
	for _, extra := range []string{"", "  - name: broken\n    secret_key: " + wrongKey + "\n"} {
		bad := filepath.Join(dir, "check.yml")
		os.WriteFile(bad, []byte(config+extra), 0o600)
		out, _ := exec.Command(bin, "--config.check", "--config.file", bad, "--log.level=debug").CombinedOutput()
		seen.Write(out)
	}

	p := exportertest.Start(t, bin, "--config.file", cfgPath, "--storage.path", filepath.Join(dir, "data"),
		"--web.listen-address", "127.0.0.1:0", "--log.level=debug")
	base := "http://" + p.Addr("metrics", 30*time.Second)
	hook := "http://" + p.Addr("webhook", 30*time.Second)
	p.WaitHTTP(base+"/-/ready", 10*time.Second)
	p.WaitHTTP(hook+"/-/healthy", 10*time.Second)

	get := func(method, u, ctype, body string, header map[string]string) {
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", method, u, err)
			return
		}
		defer resp.Body.Close()
		fmt.Fprintf(&seen, "\n%s %s -> %d %v\n", method, u, resp.StatusCode, resp.Header)
		io.Copy(&seen, resp.Body)
	}

	// PushIDs through every source, so both apps make calls: the wrong
	// key's 70009 errors are logged, the good key's calls succeed.
	os.WriteFile(filepath.Join(dir, "push.log"), []byte("file-id-1\nfile-id-2\n"), 0o600)
	auth := map[string]string{"Authorization": "Bearer " + bearerToken}
	get("POST", hook+"/webhook/push-ids?app=good", "application/json", `{"PushIDs":["hook-1","hook-2"]}`, auth)
	get("POST", hook+"/webhook/push-ids?app=wrong", "text/plain", "hook-3\nhook-4\n", auth)
	get("POST", hook+"/webhook/push-ids?app=good", "application/json", `{"PushID":"x"}`, map[string]string{"Authorization": "Bearer nope"})
	get("POST", hook+"/webhook/push-ids?app=good", "application/json", `{not json`, auth)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	sum := sha256.Sum256([]byte(callbackToken + now))
	sign := hex.EncodeToString(sum[:])
	cb := `{"CallbackCommand":"C2C.CallbackAfterSendMsg","MsgId":"cb-1"}`
	get("POST", hook+"/webhook/tencent?SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg&Sign="+sign+"&RequestTime="+now, "application/json", cb, nil)
	get("POST", hook+"/webhook/tencent?SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg&Sign=bad&RequestTime="+now, "application/json", cb, nil)
	get("POST", hook+"/webhook/tencent?SdkAppid=1400000001&CallbackCommand=C2C.CallbackAfterSendMsg&Sign="+sign+"&RequestTime=1", "application/json", cb, nil)

	// Let both apps make their calls and log their errors.
	select {
	case <-called:
	case <-p.Exited():
	case <-time.After(30 * time.Second):
	}
	if sim.Stats(1400000002).AuthFailures < 1 || sim.Stats(1400000001).OK < 1 {
		t.Fatalf("the exporter did not call the API as expected: good %+v, wrong %+v", sim.Stats(1400000001), sim.Stats(1400000002))
	}

	// Every page of the metrics listener.
	get("GET", base+"/", "", "", nil)
	get("GET", base+"/metrics", "", "", nil)
	get("GET", base+"/metrics", "", "", map[string]string{"Accept": "application/openmetrics-text; version=1.0.0"})
	get("GET", base+"/-/healthy", "", "", nil)
	get("GET", base+"/-/ready", "", "", nil)
	get("GET", base+"/trace?app=good&push_id=hook-1", "", "", nil)
	get("GET", base+"/trace?app=wrong&push_id=hook-3", "", "", nil)
	get("GET", base+"/trace?app=wrong&push_id=hook-3", "", "", map[string]string{"Accept": "application/json"})
	get("POST", base+"/-/reload", "", "", nil)
	// A reload that fails, through both doors.
	os.WriteFile(cfgPath, []byte(config+"  - name: broken\n    secret_key: "+wrongKey+"\n    sample_ratio: 7\n"), 0o600)
	get("POST", base+"/-/reload", "", "", nil)
	p.WaitFor("Error reloading config", 10*time.Second)
	p.Signal(syscall.SIGHUP)
	p.WaitFor("Error reloading config", 10*time.Second) // the SIGHUP's
	get("GET", base+"/metrics", "", "", nil)
	p.Stop(30 * time.Second)

	out := seen.String() + p.Output()
	secrets := map[string]string{"good secret_key": goodKey, "wrong secret_key": wrongKey,
		"callback token": callbackToken, "bearer token": bearerToken}
	sigMu.Lock()
	i := 0
	for s := range usersigs {
		i++
		secrets[fmt.Sprintf("UserSig #%d", i)] = s
	}
	sigMu.Unlock()
	if len(usersigs) == 0 {
		t.Fatal("no UserSig was recorded: the test proves nothing")
	}
	for what, s := range secrets {
		for _, form := range []string{s, url.QueryEscape(s)} {
			if i := strings.Index(out, form); i >= 0 {
				t.Errorf("the %s appears in the output: …%s…", what, out[max(0, i-200):min(len(out), i+len(form)+50)])
			}
		}
	}
	for _, want := range []string{"70009", "reload", "401"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q: the error paths were not exercised", want)
		}
	}
	t.Logf("searched %d bytes of logs and replies for %d secrets (%d UserSigs)", len(out), len(secrets), len(usersigs))
}
