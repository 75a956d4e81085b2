/*
 * mime.h: content types by file name extension: a built-in table of
 * the common types, optionally extended (and overridden) by a
 * mime.types(5) file ("type/subtype ext ext..." lines, # comments).
 */
#ifndef SENDFILE_MIME_H
#define SENDFILE_MIME_H

/* Load a mime.types file; 0 or -1 with errno (the file is optional:
 * callers decide whether ENOENT matters). */
int mime_load(const char *path);
/* The type for a file name ("application/octet-stream" if unknown). */
const char *mime_type(const char *filename);

#endif
