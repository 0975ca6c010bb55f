package timapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/timpush/timpush_exporter/internal/clock"
)

// TestErrorsNeverContainSecrets provokes every kind of failure and checks
// that no error text, at any depth of its chain, nor its hint, contains the
// secret key or the UserSig (raw or URL-encoded).
func TestErrorsNeverContainSecrets(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	tests := []struct {
		name    string
		replies []reply
		client  *http.Client
		deadURL bool
		// echo makes the server quote the request URL in ErrorInfo, as a
		// careless proxy or API might.
		echo bool
	}{
		{name: "connection refused", deadURL: true},
		{name: "timeout", replies: []reply{{stall: true}}, client: &http.Client{Timeout: 20 * time.Millisecond}},
		{name: "http 502", replies: []reply{{status: 502, body: "bad gateway"}}},
		{name: "cut JSON", replies: []reply{okReply(`{"ActionStatus":"OK","Inst`)}},
		{name: "wrong shape", replies: []reply{okReply(`{"InstanceTrace":7}`)}},
		{name: "70009 echoing the URL", echo: true},
		{name: "70001 twice echoing", echo: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(testStart)
			api := newFakeAPI(t, clk, tt.replies...)
			if tt.echo {
				code := 70009
				if strings.HasPrefix(tt.name, "70001") {
					code = 70001
				}
				api.onRequest = func(_ int, r recorded) reply {
					u := "/v4/timpush/normal_push_trace?" + r.query.Encode()
					info := fmt.Sprintf("bad sig %s in %s for key %s", r.query.Get("usersig"), u, testKey)
					return okReply(fmt.Sprintf(`{"ActionStatus":"FAIL","ErrorCode":%d,"ErrorInfo":%q}`, code, info))
				}
			}
			o, _, _ := testOptions(api, clk)
			o.MaxAttempts = 2
			o.HTTPClient = tt.client
			if tt.deadURL {
				o.BaseURL = dead.URL
			}
			c := mustNew(t, o)
			var err error
			drive(t, clk, func() { _, err = c.Trace(context.Background(), "p") })
			if err == nil {
				t.Fatal("no error")
			}
			secrets := map[string]string{"secret key": testKey}
			for i, r := range api.requests() {
				sig := r.query.Get("usersig")
				secrets[fmt.Sprintf("UserSig %d", i)] = sig
				secrets[fmt.Sprintf("escaped UserSig %d", i)] = url.QueryEscape(sig)
			}
			if s := c.signer.sig; s != "" {
				secrets["cached UserSig"] = s
			} else {
				t.Fatal("no UserSig was made")
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T", err)
			}
			texts := []string{fmt.Sprint(err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", e.Info), e.Hint(), e.Label()}
			for x := error(err); x != nil; x = errors.Unwrap(x) {
				texts = append(texts, x.Error())
			}
			for _, s := range texts {
				for what, secret := range secrets {
					if strings.Contains(s, secret) {
						t.Errorf("%s leaked into %q", what, s)
					}
				}
				if strings.Contains(strings.ReplaceAll(s, "usersig=<usersig>", ""), "usersig=") {
					t.Errorf("query string leaked into %q", s)
				}
			}
		})
	}
}
