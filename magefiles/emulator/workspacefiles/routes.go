package workspacefiles

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/workspace"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// Routes are the workspace routes databricks-sdk-go calls.
func (t *Tree) Routes() []core.Route {
	const ws = "/api/2.0/workspace"
	return []core.Route{
		{Pattern: "POST " + ws + "/mkdirs", Op: "workspace.mkdirs", Mutating: true, Handle: t.mkdirs},
		{Pattern: "POST " + ws + "/import", Op: "workspace.import", Mutating: true, Handle: t.importObject},
		{Pattern: "GET " + ws + "/export", Op: "workspace.export", Handle: t.export},
		{Pattern: "GET " + ws + "/get-status", Op: "workspace.get-status", Handle: t.getStatus},
		{Pattern: "GET " + ws + "/list", Op: "workspace.list", Handle: t.list},
		{Pattern: "POST " + ws + "/delete", Op: "workspace.delete", Mutating: true, Handle: t.remove},
	}
}

// cleanPath validates an absolute workspace path.
func cleanPath(p string) (string, *core.Error) {
	if p == "" {
		return "", core.InvalidParam("Path is required.")
	}
	if !strings.HasPrefix(p, "/") {
		return "", core.InvalidParam("Path (%s) is not absolute.", p)
	}
	return path.Clean(p), nil
}

func (t *Tree) mkdirs(r *http.Request) (any, *core.Error) {
	var req workspace.Mkdirs
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	p, aerr := cleanPath(req.Path)
	if aerr != nil {
		return nil, aerr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return nil, t.mkdirAll(p)
}

var notebookHeaders = map[string]workspace.Language{
	"# Databricks notebook source":  workspace.LanguagePython,
	"-- Databricks notebook source": workspace.LanguageSql,
	"// Databricks notebook source": workspace.LanguageScala,
}

var extLanguages = map[string]workspace.Language{
	".py": workspace.LanguagePython, ".sql": workspace.LanguageSql,
	".scala": workspace.LanguageScala, ".r": workspace.LanguageR,
}

var languageExt = map[workspace.Language]string{
	workspace.LanguagePython: "py", workspace.LanguageSql: "sql",
	workspace.LanguageScala: "scala", workspace.LanguageR: "r",
}

// importRequest reads a JSON or multipart import into the SDK struct.
func importRequest(r *http.Request) (workspace.Import, []byte, *core.Error) {
	var req workspace.Import
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := core.DecodeBody(r, &req); err != nil {
			return req, nil, err
		}
		content, err := base64.StdEncoding.DecodeString(req.Content)
		if err != nil {
			return req, nil, core.InvalidParam("content is not valid base64: %v", err)
		}
		return req, content, nil
	}
	// #nosec G120 -- core.Route read the body within core.MaxBody before this handler
	if err := r.ParseMultipartForm(core.MaxBody); err != nil {
		return req, nil, core.InvalidParam("Invalid multipart upload: %v", err)
	}
	for key := range r.MultipartForm.Value {
		if !slices.Contains([]string{"path", "format", "language", "overwrite"}, key) {
			return req, nil, core.InvalidParam("Unknown field %q in the multipart upload", key)
		}
	}
	req.Path = r.FormValue("path")
	req.Format = workspace.ImportFormat(r.FormValue("format"))
	req.Language = workspace.Language(r.FormValue("language"))
	req.Overwrite = r.FormValue("overwrite") == "true"
	file, _, err := r.FormFile("content")
	if err != nil {
		return req, nil, core.InvalidParam("The multipart upload has no content file: %v", err)
	}
	defer file.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(file); err != nil {
		return req, nil, core.InvalidParam("Reading the uploaded content: %v", err)
	}
	return req, buf.Bytes(), nil
}

func (t *Tree) importObject(r *http.Request) (any, *core.Error) {
	req, content, aerr := importRequest(r)
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := cleanPath(req.Path)
	if aerr != nil {
		return nil, aerr
	}
	objType, lang := workspace.ObjectTypeNotebook, req.Language
	ext := strings.ToLower(path.Ext(p))
	switch req.Format {
	case workspace.ImportFormatRaw:
		objType, lang = workspace.ObjectTypeFile, ""
	case workspace.ImportFormatAuto:
		objType, lang = workspace.ObjectTypeFile, ""
		firstLine, _, _ := strings.Cut(string(content), "\n")
		if l, ok := notebookHeaders[strings.TrimSpace(firstLine)]; ok && extLanguages[ext] != "" {
			// A notebook loses its extension, as on the real workspace.
			objType, lang, p = workspace.ObjectTypeNotebook, l, strings.TrimSuffix(p, path.Ext(p))
		}
	case "", workspace.ImportFormatSource:
		if lang == "" {
			lang = extLanguages[ext]
		}
		if lang == "" {
			return nil, core.InvalidParam("The language is required to import %s in SOURCE format.", p)
		}
	case workspace.ImportFormatJupyter, workspace.ImportFormatHtml, workspace.ImportFormatDbc, workspace.ImportFormatRMarkdown:
		if lang == "" {
			lang = workspace.LanguagePython
		}
	default:
		return nil, core.InvalidParam("Unknown import format %q.", req.Format)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	parent := path.Dir(p)
	if obj, ok := t.objects[parent]; !ok || obj.Type != workspace.ObjectTypeDirectory {
		return nil, core.NotFound("The parent folder (%s) does not exist.", parent)
	}
	if obj, ok := t.objects[p]; ok {
		if !req.Overwrite {
			return nil, existsAt("Path (%s) already exists.", p)
		}
		if obj.Type != objType {
			// Overwrite replaces an object of the same type only; a folder
			// or a notebook in the way is "already exists" even then.
			return nil, existsAt("Path (%s) already exists.", p)
		}
		obj.Type, obj.Language, obj.Content, obj.Modified = objType, lang, content, t.clock.Now().UnixMilli()
		return nil, nil
	}
	t.objects[p] = t.newObject(p, objType, lang, content)
	return nil, nil
}

// lookup decodes a query naming an object by path into v and finds the
// object. Call with t.mu held.
func (t *Tree) lookup(r *http.Request, v any, target *string, extra ...string) (*Object, *core.Error) {
	if err := core.DecodeQuery(r, v, extra...); err != nil {
		return nil, err
	}
	p, aerr := cleanPath(*target)
	if aerr != nil {
		return nil, aerr
	}
	obj, ok := t.objects[p]
	if !ok {
		return nil, missingPath(p)
	}
	return obj, nil
}

// export answers with the content base64 in JSON, or as it is with
// direct_download (the SDK's Workspace.Download).
func (t *Tree) export(r *http.Request) (any, *core.Error) {
	var req workspace.ExportRequest
	t.mu.Lock()
	obj, aerr := t.lookup(r, &req, &req.Path, "direct_download")
	var content []byte
	var typ workspace.ObjectType
	var lang workspace.Language
	if obj != nil {
		content, typ, lang = append([]byte(nil), obj.Content...), obj.Type, obj.Language
	}
	t.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	if typ == workspace.ObjectTypeDirectory {
		return nil, core.InvalidParam("Exporting a directory (%s) is not supported by the emulator; export its files.", req.Path)
	}
	if direct, _ := strconv.ParseBool(r.URL.Query().Get("direct_download")); direct {
		return core.Raw{ContentType: "application/octet-stream", Body: content}, nil
	}
	fileType := strings.TrimPrefix(path.Ext(req.Path), ".")
	if typ == workspace.ObjectTypeNotebook {
		fileType = languageExt[lang]
	}
	return workspace.ExportResponse{Content: base64.StdEncoding.EncodeToString(content), FileType: fileType}, nil
}

func (t *Tree) getStatus(r *http.Request) (any, *core.Error) {
	var req workspace.GetStatusRequest
	t.mu.Lock()
	defer t.mu.Unlock()
	obj, aerr := t.lookup(r, &req, &req.Path)
	if aerr != nil {
		return nil, aerr
	}
	return obj.info(), nil
}

func (t *Tree) list(r *http.Request) (any, *core.Error) {
	var req workspace.ListWorkspaceRequest
	t.mu.Lock()
	defer t.mu.Unlock()
	obj, aerr := t.lookup(r, &req, &req.Path)
	if aerr != nil {
		return nil, aerr
	}
	if obj.Type != workspace.ObjectTypeDirectory {
		return workspace.ListResponse{Objects: []workspace.ObjectInfo{obj.info()}}, nil
	}
	var resp workspace.ListResponse
	for _, c := range t.children(obj.Path) {
		if req.NotebooksModifiedAfter > 0 && c.Type == workspace.ObjectTypeNotebook && c.Modified <= req.NotebooksModifiedAfter {
			continue
		}
		resp.Objects = append(resp.Objects, c.info())
	}
	return resp, nil
}

func (t *Tree) remove(r *http.Request) (any, *core.Error) {
	var req workspace.Delete
	if err := core.DecodeBody(r, &req); err != nil {
		return nil, err
	}
	p, aerr := cleanPath(req.Path)
	if aerr != nil {
		return nil, aerr
	}
	if p == "/" {
		return nil, core.InvalidParam("The workspace root cannot be deleted.")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	obj, ok := t.objects[p]
	if !ok {
		return nil, missingPath(p)
	}
	if obj.Type == workspace.ObjectTypeDirectory && len(t.children(p)) > 0 && !req.Recursive {
		return nil, core.NewError(http.StatusBadRequest, core.CodeDirectoryNotEmpty, "Folder (%s) is not empty.", p)
	}
	prefix := p + "/"
	for q := range t.objects {
		if q == p || strings.HasPrefix(q, prefix) {
			delete(t.objects, q)
		}
	}
	return nil, nil
}
