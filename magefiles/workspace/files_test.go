package workspace

import (
	"testing"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release/storetest"
)

func TestFilesStoreContract(t *testing.T) {
	srv := startEmulator(t)
	c := connect(t, srv)
	storetest.Contract(t, Files{API: c.W.Workspace}, "/Users/"+srv.UserName()+"/.bundle/test/releases")
}
