package coord

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/svcdisco/svcdisco/registry"
)

func TestTermEndsOnceWithTheFirstReason(t *testing.T) {
	released := 0
	term := NewTerm(42, func(context.Context) error { released++; return nil }).
		WithKillBudget(func() time.Duration { return time.Second })
	if term.Ended() || term.LostReason() != nil || term.Token() != 42 || term.KillBudget() != time.Second {
		t.Fatalf("new term: ended %v reason %v token %d budget %v", term.Ended(), term.LostReason(), term.Token(), term.KillBudget())
	}
	term.End(ErrDisconnected)
	term.End(ErrReleased)
	<-term.Lost()
	if !errors.Is(term.LostReason(), ErrDisconnected) || !errors.Is(term.LostReason(), ErrLost) {
		t.Errorf("reason %v, want the first one (ErrDisconnected, an ErrLost)", term.LostReason())
	}
	if err := term.Release(context.Background()); err != nil || released != 1 {
		t.Errorf("Release: %v, release called %d times", err, released)
	}
	if NewTerm(1, nil).KillBudget() != 0 {
		t.Error("a term without a budget has one")
	}
}

func TestLeaderFormat(t *testing.T) {
	lc := LeaderChange{OK: true, Token: 9, Leader: registry.Provider{Service: "sched", ID: "c1", Host: "h1", Address: "10.0.0.1", Port: 7001}}
	for _, c := range []struct {
		f    LeaderFormat
		lc   LeaderChange
		want string
	}{
		{LeaderFormat{Format: FormatText, Group: "sched"}, lc, "sched: c1 at h1:7001 (token 9)\n"},
		{LeaderFormat{Format: FormatText, Group: "sched"}, LeaderChange{}, "sched: no leader\n"},
		{LeaderFormat{Format: FormatLines}, lc, "h1:7001\n"},
		{LeaderFormat{Format: FormatLines}, LeaderChange{}, "\n"},
		{LeaderFormat{Format: FormatLines, Addr: func(lc LeaderChange) string { return lc.Leader.Address }}, lc, "10.0.0.1\n"},
		{LeaderFormat{Format: FormatJSON}, LeaderChange{}, "null\n"},
		{LeaderFormat{Format: FormatLines}, LeaderChange{OK: true, Leader: registry.Provider{Host: "cron1"}}, "cron1\n"},
	} {
		var b bytes.Buffer
		if err := c.f.Write(&b, c.lc); err != nil || b.String() != c.want {
			t.Errorf("%+v: %q %v, want %q", c.f.Format, b.String(), err, c.want)
		}
	}
	var b bytes.Buffer
	if err := (LeaderFormat{Format: FormatJSON}).Write(&b, lc); err != nil || !bytes.Contains(b.Bytes(), []byte(`"id":"c1"`)) {
		t.Errorf("json: %s %v", b.String(), err)
	}
	if _, err := ParseFormat("yaml"); err == nil {
		t.Error("yaml accepted")
	}
}

func TestValidateContender(t *testing.T) {
	ok := registry.Provider{Host: "h1", Port: 0}
	if err := ValidateContender("sched", ok); err != nil {
		t.Errorf("no port: %v", err)
	}
	for _, c := range []struct {
		group string
		p     registry.Provider
	}{
		{"bad/group", ok},
		{"sched", registry.Provider{Host: "", Port: 1}},
		{"sched", registry.Provider{Host: "h1", Port: 70000}},
	} {
		if err := ValidateContender(c.group, c.p); err == nil {
			t.Errorf("%q %+v accepted", c.group, c.p)
		}
	}
}
