package config

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode: any input gives a config or an error, never a panic or hang.
// Seeds are the test files and the example.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yml")
	for _, name := range append(files, exampleFile) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Decode(bytes.NewReader(data), "testdata")
		if err != nil {
			return
		}
		if len(cfg.Apps) == 0 {
			t.Error("a config without apps was accepted")
		}
		for i := range cfg.Apps {
			if cfg.Apps[i].Location() == nil || cfg.Apps[i].BaseURL() == "" {
				t.Errorf("apps[%d]: no location or base URL", i)
			}
		}
		_ = cfg.String()
	})
}
