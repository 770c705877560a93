package agent

import (
	"testing"
)

// FuzzParseFile: no provider file makes the agent's parser panic, and every
// file it accepts yields a provider that passes validation.
//
//	go test -run '^$' -fuzz FuzzParseFile ./register/agent/
func FuzzParseFile(f *testing.F) {
	for _, seed := range []string{
		"service: web\nport: 8080\n",
		"service: web\nport: 8080\nhost: h1\naddress: 10.0.0.5\nattributes:\n  zone: a\nendpoints:\n  admin: h1:9090\nmaintenance: true\n",
		"service: web\nport: 0\n", "service: -bad\nport: 1\n", "port: 80\n", "service: web\nport: 80\nbogus: 1\n",
		"service: web\nport: 80\nendpoints:\n  admin: nohostport\n", "service: [a]\n", "", "---\n---\n", "\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := ParseFile(data, Defaults{Host: "h.example.com", Address: "10.0.0.1"})
		if err != nil {
			return
		}
		if err := spec.Provider.Validate(); err != nil {
			t.Fatalf("accepted %q but its provider is invalid: %v", data, err)
		}
	})
}
