package workspacefiles

import (
	"net/http"
	"path"
	"sort"
	"strconv"
	"sync"

	"github.com/databricks/databricks-sdk-go/service/workspace"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Object is a workspace file, notebook or directory, as the state file
// holds it.
type Object struct {
	Path     string               `json:"path"`
	Type     workspace.ObjectType `json:"type"`
	Language workspace.Language   `json:"language,omitempty"`
	Content  []byte               `json:"content,omitempty"`
	ID       int64                `json:"id"`
	Created  int64                `json:"created"`
	Modified int64                `json:"modified"`
}

// Options configure a Tree.
type Options struct {
	// User is the workspace's user, whose home folder every workspace has.
	User string
	// Clock stamps creation and modification times; nil is the wall clock.
	Clock core.Clock
	// IDs is the workspace's id sequence, shared with its other services;
	// nil starts a sequence of the tree's own.
	IDs *core.Sequence
	// Objects are the tree's objects as the state file held them (Objects),
	// keyed by path; nil starts an empty workspace.
	Objects map[string]Object
}

// Tree is one workspace's files, notebooks and folders, keyed by clean
// absolute path. It has its own lock.
type Tree struct {
	mu      sync.Mutex
	clock   core.Clock
	ids     *core.Sequence
	objects map[string]*Object
}

// New returns the tree of opts.Objects with the folders every workspace
// has: /, /Users, the user's home and /Shared.
func New(opts Options) *Tree {
	t := &Tree{clock: opts.Clock, ids: opts.IDs, objects: map[string]*Object{}}
	if t.clock == nil {
		t.clock = core.WallClock{}
	}
	if t.ids == nil {
		t.ids = core.NewSequence(0)
	}
	for p, obj := range opts.Objects {
		o := obj
		t.objects[p] = &o
	}
	for _, dir := range []string{"/", "/Users", "/Users/" + opts.User, "/Shared"} {
		if _, ok := t.objects[dir]; !ok {
			t.objects[dir] = t.newObject(dir, workspace.ObjectTypeDirectory, "", nil)
		}
	}
	return t
}

// File returns the content of a workspace file or notebook.
func (t *Tree) File(p string) ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	obj, ok := t.objects[path.Clean(p)]
	if !ok || obj.Type == workspace.ObjectTypeDirectory {
		return nil, false
	}
	return append([]byte(nil), obj.Content...), true
}

// Objects is a copy of the tree, keyed by path, for the state file.
// Content is shared: it is replaced on overwrite, never changed in place.
func (t *Tree) Objects() map[string]Object {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Object, len(t.objects))
	for p, obj := range t.objects {
		out[p] = *obj
	}
	return out
}

// newObject is an object created now with a fresh id. Call with t.mu held
// (or before the tree is shared).
func (t *Tree) newObject(p string, typ workspace.ObjectType, lang workspace.Language, content []byte) *Object {
	now := t.clock.Now().UnixMilli()
	return &Object{Path: p, Type: typ, Language: lang, Content: content, ID: t.ids.Next(), Created: now, Modified: now}
}

// mkdirAll creates p and its parents. Call with t.mu held.
func (t *Tree) mkdirAll(p string) *core.Error {
	var parts []string
	for d := p; d != "/"; d = path.Dir(d) {
		parts = append(parts, d)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		d := parts[i]
		if obj, ok := t.objects[d]; ok {
			if obj.Type != workspace.ObjectTypeDirectory {
				return existsAt("Path (%s) already exists and is not a directory.", d)
			}
			continue
		}
		t.objects[d] = t.newObject(d, workspace.ObjectTypeDirectory, "", nil)
	}
	return nil
}

// children lists the direct children of dir by path. Call with t.mu held.
func (t *Tree) children(dir string) []*Object {
	var out []*Object
	for p, obj := range t.objects {
		if p != dir && path.Dir(p) == dir {
			out = append(out, obj)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (o *Object) info() workspace.ObjectInfo {
	info := workspace.ObjectInfo{
		ObjectId: o.ID, ObjectType: o.Type, Path: o.Path, ResourceId: strconv.FormatInt(o.ID, 10),
		CreatedAt: o.Created, ModifiedAt: o.Modified,
	}
	switch o.Type {
	case workspace.ObjectTypeNotebook:
		info.Language = o.Language
	case workspace.ObjectTypeFile:
		info.Size = int64(len(o.Content))
		info.ForceSendFields = []string{"Size"}
	}
	return info
}

// existsAt is the workspace API's refusal to import over, or create a
// folder through, an existing object: 400 RESOURCE_ALREADY_EXISTS (the SDK
// maps the code to ErrResourceAlreadyExists whatever the status).
func existsAt(format string, args ...any) *core.Error {
	return core.NewError(http.StatusBadRequest, core.CodeAlreadyExists, format, args...)
}

func missingPath(p string) *core.Error {
	return core.NotFound("Path (%s) doesn't exist.", p)
}
