package exhibitor_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/svcdisco/svcdisco/internal/testcli"
	"github.com/svcdisco/svcdisco/internal/testexhibitor"
	"github.com/svcdisco/svcdisco/internal/testzk"
)

// A command whose Exhibitor names servers nobody listens on works through
// the backup list and says so, instead of exiting 4.
func TestCommandFallsThroughToTheBackup(t *testing.T) {
	live := testzk.Start(t, 1).Servers[0].Addr()
	ex := testexhibitor.Start(t)
	ex.Servers(fmt.Sprintf("127.0.0.1:%d", testzk.FreePort()))
	url := "exhibitor://" + ex.Host() + "?backup=" + live
	res := testcli.Run(ctx20(t), "", "services", "--registry", url, "--root", testzk.Root(t),
		"--ensemble-cache", filepath.Join(t.TempDir(), "e.json"))
	if res.Code != 0 {
		t.Fatalf("services: exit %d, %v\n%s", res.Code, res.Error, res.Err)
	}
	if !strings.Contains(res.Err, "using the ZooKeeper ensemble from the backup") {
		t.Fatalf("the source used is not logged:\n%s", res.Err)
	}
}
