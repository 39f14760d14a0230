package release_test

import (
	"testing"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release/storetest"
)

func TestDirStoreContract(t *testing.T) {
	storetest.Contract(t, release.DirStore{Dir: t.TempDir()}, "/releases")
}
