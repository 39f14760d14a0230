// Package workspacefiles is the emulator's workspace files service: one
// workspace's Tree of files, notebooks and folders, with its own lock,
// answering the /api/2.0/workspace routes databricks-sdk-go calls
// (Routes): mkdirs, import (JSON and multipart upload; SOURCE, AUTO, RAW
// and the notebook formats), export (base64 in JSON, or as it is with
// direct_download), get-status, list and delete.
//
// It follows the workspace API: import needs the parent folder (404
// RESOURCE_DOES_NOT_EXIST "The parent folder (...) does not exist.") and
// refuses an existing path without overwrite, or one of another type even
// with it (400 RESOURCE_ALREADY_EXISTS); mkdirs creates parents and
// through a file is RESOURCE_ALREADY_EXISTS; a notebook imported with AUTO
// loses its extension; deleting a folder with children needs recursive
// (400 DIRECTORY_NOT_EMPTY). tests/contract cites the evidence.
//
// The rest of the emulator reaches the tree through New (restoring what
// the state file held), Objects (what to write to it) and File (the
// content at a path: the bundle deployment state and lock files tests
// read). Object ids come from the workspace's id sequence (Options.IDs),
// which its jobs and MLflow experiments share, so ids stay unique across
// the workspace and the state file keeps one counter.
package workspacefiles
