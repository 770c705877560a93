package registrytest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/svcdisco/svcdisco/register/agent"
)

// testTags: tags given at registration (library, agent file) are listed
// in the provider JSON (always present, [] when none), `query --tag`
// keeps the providers carrying every tag asked for — also with -o lines,
// whose fields-only listing must not lose them — and an invalid tag is a
// usage error (exit 2).
func (s *suite) testTags(t *testing.T) {
	root := s.root(t)
	r := s.open(t, root, nil)
	h1 := web("h1", 80)
	h1.Tags = []string{"primary", "v2"}
	mustRegister(t, r, h1)
	h2 := web("h2", 81)
	h2.Tags = []string{"v2"}
	mustRegister(t, r, h2)
	mustRegister(t, r, web("h3", 82))
	spec, err := agent.ParseFile([]byte("service: web\nport: 83\nhost: h4\naddress: 10.0.0.6\ntags: [canary, v2]\n"), agent.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, spec.Provider)

	byHost := map[string][]string{}
	for _, p := range list(t, s.open(t, root, nil), "web") {
		byHost[p.Host] = p.Tags
	}
	want := map[string][]string{"h1": {"primary", "v2"}, "h2": {"v2"}, "h3": nil, "h4": {"canary", "v2"}}
	if !reflect.DeepEqual(byHost, want) {
		t.Errorf("tags listed: %v, want %v", byHost, want)
	}

	code, out, errOut := s.cli(t, root, "query", "web", "-o", "json")
	var objs []map[string]any
	if err := json.Unmarshal([]byte(out), &objs); code != 0 || err != nil || len(objs) != 4 {
		t.Fatalf("query -o json: exit %d, %v: %s %s", code, err, out, errOut)
	}
	for _, o := range objs {
		if tags, ok := o["tags"].([]any); !ok || (o["host"] == "h3" && len(tags) != 0) {
			t.Errorf("provider %v: want a tags list ([] when none)", o)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tag", "v2"}, "h1:80\nh2:81\nh4:83\n"},
		{[]string{"--tag", "v2", "--tag", "primary"}, "h1:80\n"},
		{[]string{"--tag", "nope"}, ""},
	} {
		code, out, errOut := s.cli(t, root, append([]string{"query", "web", "-o", "lines"}, tc.args...)...)
		if code != 0 || out != tc.want {
			t.Errorf("query %v -o lines: exit %d, %q, want %q (stderr %s)", tc.args, code, out, tc.want, errOut)
		}
	}
	if code, _, errOut := s.cli(t, root, "query", "web", "--tag", "has space"); code != 2 {
		t.Errorf("query --tag 'has space': exit %d, want 2 (%s)", code, errOut)
	}
	bad := web("h5", 84)
	bad.Tags = []string{"v2", "v2"}
	if _, err := r.Register(ctxT(t), bad); err == nil {
		t.Error("a provider with a duplicate tag was registered")
	}
}
