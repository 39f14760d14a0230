package emulator

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/workspace"

	"github.com/hitl-mlops/interrupt-agent/magefiles/emulator/core"
)

// seedWorkspace creates the folders every workspace has. Call with s.mu held.
func (s *Server) seedWorkspace() {
	for _, dir := range []string{"/", "/Users", "/Users/" + s.user, "/Shared"} {
		if _, ok := s.st.Objects[dir]; !ok {
			now := ms(s.now())
			s.st.Objects[dir] = &wsObject{Path: dir, Type: workspace.ObjectTypeDirectory, ID: s.st.nextID(), Created: now, Modified: now}
		}
	}
}

func (s *Server) registerWorkspace() {
	s.handleJSON("POST /api/2.0/workspace/mkdirs", "workspace.mkdirs", true, s.wsMkdirs)
	s.handleJSON("POST /api/2.0/workspace/import", "workspace.import", true, s.wsImport)
	s.handle("GET /api/2.0/workspace/export", "workspace.export", false, s.wsExport)
	s.handleJSON("GET /api/2.0/workspace/get-status", "workspace.get-status", false, s.wsGetStatus)
	s.handleJSON("GET /api/2.0/workspace/list", "workspace.list", false, s.wsList)
	s.handleJSON("POST /api/2.0/workspace/delete", "workspace.delete", true, s.wsDelete)
}

// cleanPath validates an absolute workspace path.
func cleanPath(p string) (string, *apiError) {
	if p == "" {
		return "", invalidParam("Path is required.")
	}
	if !strings.HasPrefix(p, "/") {
		return "", invalidParam("Path (%s) is not absolute.", p)
	}
	return path.Clean(p), nil
}

func missingPath(p string) *apiError {
	return notFound("Path (%s) doesn't exist.", p)
}

func (s *Server) wsMkdirs(r *http.Request) (any, *apiError) {
	var req workspace.Mkdirs
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	p, aerr := cleanPath(req.Path)
	if aerr != nil {
		return nil, aerr
	}
	return nil, s.mkdirAll(p)
}

// mkdirAll creates p and its parents. Call with s.mu held.
func (s *Server) mkdirAll(p string) *apiError {
	var parts []string
	for d := p; d != "/"; d = path.Dir(d) {
		parts = append(parts, d)
	}
	now := ms(s.now())
	for i := len(parts) - 1; i >= 0; i-- {
		d := parts[i]
		if obj, ok := s.st.Objects[d]; ok {
			if obj.Type != workspace.ObjectTypeDirectory {
				return existsAt("Path (%s) already exists and is not a directory.", d)
			}
			continue
		}
		s.st.Objects[d] = &wsObject{Path: d, Type: workspace.ObjectTypeDirectory, ID: s.st.nextID(), Created: now, Modified: now}
	}
	return nil
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
func importRequest(r *http.Request) (workspace.Import, []byte, *apiError) {
	var req workspace.Import
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := decodeBody(r, &req); err != nil {
			return req, nil, err
		}
		content, err := base64.StdEncoding.DecodeString(req.Content)
		if err != nil {
			return req, nil, invalidParam("content is not valid base64: %v", err)
		}
		return req, content, nil
	}
	if err := r.ParseMultipartForm(core.MaxBody); err != nil {
		return req, nil, invalidParam("Invalid multipart upload: %v", err)
	}
	for key := range r.MultipartForm.Value {
		if !contains([]string{"path", "format", "language", "overwrite"}, key) {
			return req, nil, invalidParam("Unknown field %q in the multipart upload", key)
		}
	}
	req.Path = r.FormValue("path")
	req.Format = workspace.ImportFormat(r.FormValue("format"))
	req.Language = workspace.Language(r.FormValue("language"))
	req.Overwrite = r.FormValue("overwrite") == "true"
	file, _, err := r.FormFile("content")
	if err != nil {
		return req, nil, invalidParam("The multipart upload has no content file: %v", err)
	}
	defer file.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(file); err != nil {
		return req, nil, invalidParam("Reading the uploaded content: %v", err)
	}
	return req, buf.Bytes(), nil
}

func (s *Server) wsImport(r *http.Request) (any, *apiError) {
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
			return nil, invalidParam("The language is required to import %s in SOURCE format.", p)
		}
	case workspace.ImportFormatJupyter, workspace.ImportFormatHtml, workspace.ImportFormatDbc, workspace.ImportFormatRMarkdown:
		if lang == "" {
			lang = workspace.LanguagePython
		}
	default:
		return nil, invalidParam("Unknown import format %q.", req.Format)
	}
	parent := path.Dir(p)
	if obj, ok := s.st.Objects[parent]; !ok || obj.Type != workspace.ObjectTypeDirectory {
		return nil, notFound("The parent folder (%s) does not exist.", parent)
	}
	now := ms(s.now())
	if obj, ok := s.st.Objects[p]; ok {
		if !req.Overwrite {
			return nil, existsAt("Path (%s) already exists.", p)
		}
		if obj.Type != objType {
			// Overwrite replaces an object of the same type only; a folder
			// or a notebook in the way is "already exists" even then.
			return nil, existsAt("Path (%s) already exists.", p)
		}
		obj.Type, obj.Language, obj.Content, obj.Modified = objType, lang, content, now
		return nil, nil
	}
	s.st.Objects[p] = &wsObject{Path: p, Type: objType, Language: lang, Content: content, ID: s.st.nextID(), Created: now, Modified: now}
	return nil, nil
}

func (s *Server) lookup(r *http.Request, v any, target *string, extra ...string) (*wsObject, *apiError) {
	if err := decodeQuery(r, v, extra...); err != nil {
		return nil, err
	}
	p, aerr := cleanPath(*target)
	if aerr != nil {
		return nil, aerr
	}
	obj, ok := s.st.Objects[p]
	if !ok {
		return nil, missingPath(p)
	}
	return obj, nil
}

func (s *Server) wsExport(w http.ResponseWriter, r *http.Request) {
	var req workspace.ExportRequest
	s.mu.Lock()
	obj, aerr := s.lookup(r, &req, &req.Path, "direct_download")
	var content []byte
	var typ workspace.ObjectType
	var lang workspace.Language
	if obj != nil {
		content, typ, lang = append([]byte(nil), obj.Content...), obj.Type, obj.Language
	}
	s.mu.Unlock()
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if typ == workspace.ObjectTypeDirectory {
		writeError(w, invalidParam("Exporting a directory (%s) is not supported by the emulator; export its files.", req.Path))
		return
	}
	if direct, _ := strconv.ParseBool(r.URL.Query().Get("direct_download")); direct {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(content)
		return
	}
	fileType := strings.TrimPrefix(path.Ext(req.Path), ".")
	if typ == workspace.ObjectTypeNotebook {
		fileType = languageExt[lang]
	}
	writeJSON(w, http.StatusOK, workspace.ExportResponse{Content: base64.StdEncoding.EncodeToString(content), FileType: fileType})
}

func (o *wsObject) info() workspace.ObjectInfo {
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

func (s *Server) wsGetStatus(r *http.Request) (any, *apiError) {
	var req workspace.GetStatusRequest
	obj, aerr := s.lookup(r, &req, &req.Path)
	if aerr != nil {
		return nil, aerr
	}
	return obj.info(), nil
}

// children lists the direct children of dir. Call with s.mu held.
func (s *Server) children(dir string) []*wsObject {
	var out []*wsObject
	for p, obj := range s.st.Objects {
		if p != dir && path.Dir(p) == dir {
			out = append(out, obj)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (s *Server) wsList(r *http.Request) (any, *apiError) {
	var req workspace.ListWorkspaceRequest
	obj, aerr := s.lookup(r, &req, &req.Path)
	if aerr != nil {
		return nil, aerr
	}
	if obj.Type != workspace.ObjectTypeDirectory {
		return workspace.ListResponse{Objects: []workspace.ObjectInfo{obj.info()}}, nil
	}
	var resp workspace.ListResponse
	for _, c := range s.children(obj.Path) {
		if req.NotebooksModifiedAfter > 0 && c.Type == workspace.ObjectTypeNotebook && c.Modified <= req.NotebooksModifiedAfter {
			continue
		}
		resp.Objects = append(resp.Objects, c.info())
	}
	return resp, nil
}

func (s *Server) wsDelete(r *http.Request) (any, *apiError) {
	var req workspace.Delete
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	p, aerr := cleanPath(req.Path)
	if aerr != nil {
		return nil, aerr
	}
	if p == "/" {
		return nil, invalidParam("The workspace root cannot be deleted.")
	}
	obj, ok := s.st.Objects[p]
	if !ok {
		return nil, missingPath(p)
	}
	if obj.Type == workspace.ObjectTypeDirectory && len(s.children(p)) > 0 && !req.Recursive {
		return nil, newError(http.StatusBadRequest, codeDirectoryNotEmpty, "Folder (%s) is not empty.", p)
	}
	prefix := p + "/"
	for q := range s.st.Objects {
		if q == p || strings.HasPrefix(q, prefix) {
			delete(s.st.Objects, q)
		}
	}
	return nil, nil
}

// WorkspaceFile returns the content of a workspace file or notebook.
func (s *Server) WorkspaceFile(p string) ([]byte, bool) {
	obj, ok := s.st.Objects[path.Clean(p)]
	if !ok || obj.Type == workspace.ObjectTypeDirectory {
		return nil, false
	}
	return append([]byte(nil), obj.Content...), true
}
