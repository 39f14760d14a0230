package workspace

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hitl-mlops/interrupt-agent/magefiles/release"
	"github.com/hitl-mlops/interrupt-agent/magefiles/release/storetest"
)

func TestFilesStoreContract(t *testing.T) {
	srv := startEmulator(t)
	c := connect(t, srv)
	storetest.Contract(t, Files{API: c.W.Workspace}, "/Users/"+srv.UserName()+"/.bundle/test/releases")
}

// The workspace answers 400 RESOURCE_ALREADY_EXISTS both to a create-only
// import over an existing file and to an import over an object of another
// kind, even with overwrite (the Databricks CLI's libs/filer reads a 400
// "already exists." as such). Only the first is the store's ErrExist: a lock
// or journal write with overwrite that meets a folder is an error of its
// own, never "someone else holds it".
func TestFilesWriteAlreadyExists(t *testing.T) {
	ctx := context.Background()
	srv := startEmulator(t)
	c := connect(t, srv)
	f := Files{API: c.W.Workspace}
	dir := "/Users/" + srv.UserName() + "/.bundle/test"
	require.NoError(t, f.Write(ctx, dir+"/lock.json", []byte("{}"), false))
	require.NoError(t, f.Mkdirs(ctx, dir+"/folder"))

	for _, tc := range []struct {
		name      string
		path      string
		overwrite bool
		exist     bool
		msg       string
	}{
		{"create-only over a file", dir + "/lock.json", false, true, "file already exists"},
		{"overwrite over a file", dir + "/lock.json", true, false, ""},
		{"overwrite over a folder", dir + "/folder", true, false, "holds an object that is not a file"},
		{"create-only over a folder", dir + "/folder", false, true, "file already exists"},
		{"create through a file", dir + "/lock.json/inner.json", false, false, "create folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.Write(ctx, tc.path, []byte(`{"a":1}`), tc.overwrite)
			if tc.msg == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.exist, errors.Is(err, release.ErrExist), "%v", err)
			assert.ErrorContains(t, err, tc.msg)
		})
	}
}
