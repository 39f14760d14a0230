package bundle

import (
	"io/fs"
	"path"
	"strings"

	"github.com/hitl-mlops/interrupt-agent/magefiles/bundle/dyn"
)

// taskPathFields are the task settings that name a local file. A relative
// path is relative to the YAML file that wrote it and becomes a path under
// workspace.file_path, where the deploy uploads the bundle's files.
var taskPathFields = []struct {
	block, field string
	notebook     bool
}{
	{"spark_python_task", "python_file", false},
	{"notebook_task", "notebook_path", true},
}

var libraryPathFields = []string{"whl", "jar", "requirements"}

// builtLibraryFields are library paths an artifacts: build may produce:
// the CLI checks them only after the build, on deploy
// (bundle/libraries/expand_glob_references.go), so validation does not.
var builtLibraryFields = map[string]bool{"whl": true, "jar": true}

// translatePaths rewrites local file references in job tasks to workspace
// paths and checks that each file exists in the bundle.
func (l *loader) translatePaths() {
	forEachResource(l, KindJobs, func(at dyn.Path, job dyn.Value) dyn.Value {
		tasks, ok := job.Get("tasks").AsSeq()
		if !ok {
			return job
		}
		out := make([]dyn.Value, len(tasks))
		for i, t := range tasks {
			out[i] = l.translateTask(at.Key("tasks").Index(i), t)
		}
		return setChild(job, "tasks", dyn.Seq(out, job.Get("tasks").Location()))
	})
}

func (l *loader) translateTask(at dyn.Path, task dyn.Value) dyn.Value {
	if _, ok := task.AsMap(); !ok {
		return task
	}
	for _, f := range taskPathFields {
		block := task.Get(f.block)
		if !block.IsValid() {
			continue
		}
		v := block.Get(f.field)
		if !v.IsValid() {
			continue
		}
		nv := l.translatePath(at.Key(f.block).Key(f.field), v, f.notebook)
		task = setChild(task, f.block, setChild(block, f.field, nv))
	}
	if libs, ok := task.Get("libraries").AsSeq(); ok {
		out := make([]dyn.Value, len(libs))
		for i, lib := range libs {
			out[i] = lib
			for _, field := range libraryPathFields {
				if v := lib.Get(field); v.IsValid() {
					lp := at.Key("libraries").Index(i).Key(field)
					if builtLibraryFields[field] {
						out[i] = setChild(out[i], field, l.translateBuilt(v))
						continue
					}
					out[i] = setChild(out[i], field, l.translatePath(lp, v, false))
				}
			}
		}
		task = setChild(task, "libraries", dyn.Seq(out, task.Get("libraries").Location()))
	}
	if inner := task.Get("for_each_task").Get("task"); inner.IsValid() {
		fe := task.Get("for_each_task")
		task = setChild(task, "for_each_task", setChild(fe, "task", l.translateTask(at.Key("for_each_task").Key("task"), inner)))
	}
	return task
}

// translatePath maps one local path. Paths that are already remote
// (absolute, a URI such as dbfs:/ or s3://, a reference, a glob) are left
// alone; the deploy engine or the CLI's artifact build handles those.
func (l *loader) translatePath(at dyn.Path, v dyn.Value, notebook bool) dyn.Value {
	p, ok := v.AsString()
	if !ok || !isLocalPath(p) {
		return v
	}
	file := v.Location().File
	rel := path.Clean(path.Join(path.Dir(file), p))
	if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
		l.errorAt(v, at, "path %q points outside the bundle root", p)
		return v
	}
	if _, err := fs.Stat(l.fsys, rel); err != nil {
		l.errorAt(v, at, "file %s does not exist (from %q, relative to %s)", rel, p, displayDir(file))
		return v
	}
	remote := rel
	if notebook {
		// Notebooks are imported without their source extension.
		for _, ext := range []string{".py", ".ipynb", ".sql", ".scala", ".r", ".R"} {
			if strings.HasSuffix(remote, ext) {
				remote = strings.TrimSuffix(remote, ext)
				break
			}
		}
	}
	return dyn.String(strings.TrimRight(l.b.Workspace.FilePath, "/")+"/"+remote, v.Location())
}

// translateBuilt maps a wheel or jar path to where the deploy uploads it,
// without requiring the file yet; one outside the bundle stays as written.
func (l *loader) translateBuilt(v dyn.Value) dyn.Value {
	p, ok := v.AsString()
	if !ok || !isLocalPath(p) {
		return v
	}
	rel := path.Clean(path.Join(path.Dir(v.Location().File), p))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return v
	}
	return dyn.String(strings.TrimRight(l.b.Workspace.FilePath, "/")+"/"+rel, v.Location())
}

func displayDir(file string) string {
	d := path.Dir(file)
	if d == "." {
		return "the bundle root"
	}
	return d + "/"
}

func isLocalPath(p string) bool {
	switch {
	case p == "", strings.HasPrefix(p, "/"), strings.Contains(p, "://"), dyn.HasReference(p), strings.ContainsAny(p, "*?["):
		return false
	}
	// Schemes such as dbfs:/ or file:/.
	if i := strings.Index(p, ":"); i > 0 && !strings.ContainsAny(p[:i], "/.") {
		return false
	}
	return true
}
