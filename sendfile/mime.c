/*
 * mime.c: extension -> content type.  Loaded entries are searched
 * before the built-in table, so a mime.types file can override it.
 * Text types get "; charset=utf-8".
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mime.h"

struct mimeent {
	const char *ext;
	const char *type;
};

static const struct mimeent builtin[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "json", "application/json" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "text", "text/plain; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "csv", "text/csv; charset=utf-8" },
	{ "xml", "application/xml" },
	{ "xhtml", "application/xhtml+xml" },
	{ "rss", "application/rss+xml" },
	{ "atom", "application/atom+xml" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "bmp", "image/bmp" },
	{ "tif", "image/tiff" },
	{ "tiff", "image/tiff" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "pdf", "application/pdf" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "tgz", "application/gzip" },
	{ "bz2", "application/x-bzip2" },
	{ "xz", "application/x-xz" },
	{ "zst", "application/zstd" },
	{ "tar", "application/x-tar" },
	{ "wasm", "application/wasm" },
	{ "mp3", "audio/mpeg" },
	{ "ogg", "audio/ogg" },
	{ "oga", "audio/ogg" },
	{ "wav", "audio/wav" },
	{ "flac", "audio/flac" },
	{ "mp4", "video/mp4" },
	{ "m4v", "video/mp4" },
	{ "webm", "video/webm" },
	{ "ogv", "video/ogg" },
	{ "sh", "text/plain; charset=utf-8" },
	{ "c", "text/plain; charset=utf-8" },
	{ "h", "text/plain; charset=utf-8" },
	{ "diff", "text/plain; charset=utf-8" },
	{ "patch", "text/plain; charset=utf-8" },
};

static struct mimeent *loaded;
static size_t nloaded;

static void
mime_add(const char *ext, const char *type)
{
	char *t;

	loaded = xrealloc(loaded, (nloaded + 1) * sizeof(*loaded));
	if (!strncmp(type, "text/", 5)) {
		t = xmalloc(strlen(type) + sizeof("; charset=utf-8"));
		strcpy(t, type);
		strcat(t, "; charset=utf-8");
	} else
		t = xstrdup(type);
	loaded[nloaded].ext = xstrdup(ext);
	loaded[nloaded].type = t;
	nloaded++;
}

int
mime_load(const char *path)
{
	char *line = NULL, *p, *type, *ext, *save;
	size_t cap = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (getline(&line, &cap, f) != -1) {
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		if ((type = strtok_r(line, " \t\r\n", &save)) == NULL ||
		    strchr(type, '/') == NULL)
			continue;
		while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL)
			mime_add(ext, type);
	}
	free(line);
	fclose(f);
	return 0;
}

const char *
mime_type(const char *filename)
{
	const char *base, *ext;
	size_t i;

	base = strrchr(filename, '/');
	base = base ? base + 1 : filename;
	if ((ext = strrchr(base, '.')) == NULL || ext == base)
		return "application/octet-stream";
	ext++;
	for (i = nloaded; i > 0; i--)
		if (!strcasecmp(loaded[i - 1].ext, ext))
			return loaded[i - 1].type;
	for (i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcasecmp(builtin[i].ext, ext))
			return builtin[i].type;
	return "application/octet-stream";
}
