package config

import (
	"os"
	"strings"
	"testing"
)

func TestSampleRatioAuto(t *testing.T) {
	cfg, err := Load("testdata/good-auto.yml")
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Apps[0]; !a.SampleAuto {
		t.Fatalf("sample_ratio: auto not recognised: %+v", a)
	}
	for _, tt := range []struct{ value, wantErr string }{
		{"0.5", ""},
		{"automatic", "sample_ratio"},
		{"[auto]", "sample_ratio"},
	} {
		in := strings.Replace(mustRead(t, "testdata/good-auto.yml"), "sample_ratio: auto", "sample_ratio: "+tt.value, 1)
		cfg, err := Decode(strings.NewReader(in), "")
		switch {
		case tt.wantErr == "" && (err != nil || cfg.Apps[0].SampleAuto || cfg.Apps[0].SampleRatio != 0.5):
			t.Errorf("sample_ratio: %s: err %v, cfg %+v", tt.value, err, cfg)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("sample_ratio: %s: err %v, want one naming %s", tt.value, err, tt.wantErr)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
