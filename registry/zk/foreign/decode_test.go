package foreign

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/internal/exitcode"
	"github.com/svcdisco/svcdisco/registry"
)

var (
	now     = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	created = now.Add(-time.Hour)
)

func TestDecodeMapsEachFormat(t *testing.T) {
	regMs := now.Add(-2 * time.Hour).UnixMilli()
	for _, c := range []struct {
		name   string
		f      Format
		e      Entry
		want   string // provider fields that matter, as checked by describe
		status string
	}{
		{"curator", FormatCurator, Entry{Name: "8c1e", Data: []byte(`{"name":"web","id":"8c1e","address":"10.0.0.5","port":8080,"sslPort":8443,` +
			`"payload":{"@class":"java.util.HashMap","zone":"a","n":3},"registrationTimeUTC":` + itoa(regMs) + `,"serviceType":"DYNAMIC","uriSpec":null}`)},
			"id=8c1e host=10.0.0.5 addr=10.0.0.5 port=8080 w=1 ts=08:00:00.000 eps=ssl:10.0.0.5:8443 attrs=n:3,zone:a", registry.StatusUp},
		{"curator ssl only, disabled", FormatCurator, Entry{Name: "x", Data: []byte(`{"id":"a b","address":"h1","sslPort":443,"registrationTimeUTC":` + itoa(regMs) + `,"enabled":false}`)},
			"id=web-h1-443 host=h1 addr= port=443 w=1 ts=08:00:00.000 eps=ssl:h1:443 attrs=", registry.StatusMaintenance},
		{"serverset", FormatServerSet, Entry{Name: "member_0000000007", Created: created, Data: []byte(
			`{"serviceEndpoint":{"host":"h2","port":31000},"additionalEndpoints":{"admin":{"host":"h2","port":31001}},"status":"ALIVE","shard":4}`)},
			"id=web-h2-31000 host=h2 addr= port=31000 w=1 ts=09:00:00.000 eps=admin:h2:31001 attrs=shard:4", registry.StatusUp},
		{"serverset stopping", FormatServerSet, Entry{Name: "member_0000000008", Created: created, Data: []byte(
			`{"serviceEndpoint":{"host":"h2","port":31000},"status":"STOPPING"}`)},
			"id=web-h2-31000 host=h2 addr= port=31000 w=1 ts=09:00:00.000 eps= attrs=", registry.StatusMaintenance},
		{"nerve", FormatNerve, Entry{Name: "i-1_0000000003", Created: created, Data: []byte(
			`{"host":"10.1.1.1","port":3000,"name":"i-1","weight":5,"haproxy_server_options":"backup","labels":{"az":"b"}}`)},
			"id=i-1 host=10.1.1.1 addr=10.1.1.1 port=3000 w=5 ts=09:00:00.000 eps= attrs=az:b,haproxy_server_options:backup", registry.StatusUp},
		{"svcdisco under auto", FormatAuto, Entry{Name: "h3:80@" + itoa(regMs), Data: []byte(`{"weight":2,"attributes":{"k":"v"}}`)},
			"id=web-h3-80 host=h3 addr= port=80 w=2 ts=08:00:00.000 eps= attrs=k:v", registry.StatusUp},
		{"serverset under auto", FormatAuto, Entry{Name: "member_0000000001", Created: created, Data: []byte(`{"serviceEndpoint":{"host":"h4","port":1}}`)},
			"id=web-h4-1 host=h4 addr= port=1 w=1 ts=09:00:00.000 eps= attrs=", registry.StatusUp},
		{"curator under auto", FormatAuto, Entry{Name: "uuid", Data: []byte(`{"address":"h5","port":2,"registrationTimeUTC":` + itoa(regMs) + `}`)},
			"id=web-h5-2 host=h5 addr= port=2 w=1 ts=08:00:00.000 eps= attrs=", registry.StatusUp},
		{"nerve under auto", FormatAuto, Entry{Name: "i-9_base64_2_e30=_0000000012", Created: created, Data: []byte(`{"host":"h6","port":3,"name":"i-9"}`)},
			"id=i-9 host=h6 addr= port=3 w=1 ts=09:00:00.000 eps= attrs=", registry.StatusUp},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Decode(c.f, "web", c.e, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(p); got != c.want || p.Status != c.status || p.Service != "web" || p.Name != c.e.Name {
				t.Errorf("got  %s %s %s %s\nwant %s %s", got, p.Status, p.Service, p.Name, c.want, c.status)
			}
		})
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	ms := itoa(now.Add(-time.Hour).UnixMilli())
	for _, c := range []struct {
		f Format
		e Entry
	}{
		{FormatCurator, Entry{Name: "a", Data: []byte(`not json`)}},
		{FormatCurator, Entry{Name: "a", Data: []byte(`{"address":"h","port":1}`)}},                         // no registration time
		{FormatCurator, Entry{Name: "a", Data: []byte(`{"address":"h","registrationTimeUTC":` + ms + `}`)}}, // no port
		{FormatCurator, Entry{Name: "a", Data: []byte(`{"address":"h","port":1,"registrationTimeUTC":1}`)}}, // 1970
		{FormatCurator, Entry{Name: "a", Data: []byte(`{"address":"evil host","port":1,"registrationTimeUTC":` + ms + `}`)}},
		{FormatServerSet, Entry{Name: "other_0000000001", Created: created, Data: []byte(`{"serviceEndpoint":{"host":"h","port":1}}`)}},
		{FormatServerSet, Entry{Name: "member_0000000001", Created: created, Data: []byte(`{"status":"ALIVE"}`)}},
		{FormatServerSet, Entry{Name: "member_0000000001", Created: created, Data: []byte(`{"serviceEndpoint":{"host":"h","port":70000}}`)}},
		{FormatServerSet, Entry{Name: "member_0000000001", Created: created, Data: []byte(`{"serviceEndpoint":{"host":"h","port":1},"additionalEndpoints":{"x":{"host":"","port":1}}}`)}},
		{FormatNerve, Entry{Name: "i_0000000001", Created: created, Data: []byte(`{"host":"h"}`)}},
		{FormatNerve, Entry{Name: "i_0000000001", Created: created, Data: []byte(`{"host":"h","port":1,"weight":-1}`)}},
		{FormatNerve, Entry{Name: "i_0000000001", Created: created, Data: []byte(``)}},
		{FormatAuto, Entry{Name: "lock", Created: created, Data: []byte(`{"host":"h","port":1}`)}},
	} {
		if p, err := Decode(c.f, "web", c.e, now); err == nil {
			t.Errorf("%s %s %q: decoded %+v, want an error", c.f, c.e.Name, c.e.Data, p)
		}
	}
}

func TestParseFormatAndSource(t *testing.T) {
	for _, s := range []string{"", "auto", "svcdisco", "curator", "serverset", "nerve"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseFormat("finagle"); exitcode.Of(err) != exitcode.Usage || !strings.Contains(err.Error(), "finagle") {
		t.Errorf("finagle: %v, want a usage error naming it", err)
	}
	for _, p := range []string{"relative", "/a//b", "/", "/a/../b"} {
		if err := (Source{Format: FormatNerve, Path: p}).Validate(); exitcode.Of(err) != exitcode.Usage {
			t.Errorf("path %q: %v, want a usage error", p, err)
		}
	}
	s := Source{Format: FormatCurator, Path: "/disco/{service}"}
	if err := s.Validate(); err != nil || s.dir("/chroot", "/own", "web") != "/chroot/disco/web" || s.Own() {
		t.Errorf("%v %q", err, s.dir("/chroot", "/own", "web"))
	}
	if !(Source{}).Own() || (Source{Format: FormatSvcdisco, Path: "/x"}).Own() || (Source{Format: FormatAuto}).Own() {
		t.Error("Own")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func describe(p registry.Provider) string {
	var eps, attrs []string
	for k, e := range p.Endpoints {
		eps = append(eps, k+":"+e.Host+":"+strconv.Itoa(e.Port))
	}
	for k, v := range p.Attributes {
		attrs = append(attrs, k+":"+v)
	}
	sort.Strings(eps)
	sort.Strings(attrs)
	return fmt.Sprintf("id=%s host=%s addr=%s port=%d w=%d ts=%s eps=%s attrs=%s", p.ID, p.Host, p.Address, p.Port, p.Weight,
		p.Timestamp.Format("15:04:05.000"), strings.Join(eps, ","), strings.Join(attrs, ","))
}
