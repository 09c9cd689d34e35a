/* flamegraph.c - SVG flame graphs from folded stacks (see flamegraph.h).
 *
 * The stacks are merged into a tree (children in a per-node list, found by
 * name); layout is by depth (root at the bottom) and cumulative value (x).
 * Each frame is <g class="f" data-x data-w data-d><title>..</title><rect/>
 * <text/></g> with x/w in value units, so the script can re-lay the graph
 * out for any zoomed frame without knowing the tree.
 */
#include "flamegraph.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FG_WIDTH 1200		/* px */
#define FG_FRAME_H 16		/* px per stack level */
#define FG_TOP 40		/* px for title and controls */
#define FG_BOTTOM 24		/* px for the detail line */
#define FG_PAD 10		/* px left and right */
#define FG_MIN_PX 0.1		/* frames narrower than this are not drawn */

struct fg_node {
	char *name;
	uint64_t value;		/* this frame and everything above it */
	struct fg_node *child, *next;
};

struct flamegraph {
	struct fg_node root;	/* name NULL; value = total */
	int max_depth;
};

struct flamegraph *flamegraph_new(void)
{
	return calloc(1, sizeof(struct flamegraph));
}

static void node_free(struct fg_node *n)
{
	while (n) {
		struct fg_node *next = n->next;

		node_free(n->child);
		free(n->name);
		free(n);
		n = next;
	}
}

void flamegraph_free(struct flamegraph *fg)
{
	if (!fg)
		return;
	node_free(fg->root.child);
	free(fg);
}

static struct fg_node *child_get(struct fg_node *p, const char *name, size_t len)
{
	struct fg_node *c, **tail = &p->child;

	for (c = p->child; c; tail = &c->next, c = c->next)
		if (strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->name = strndup(name, len);
	if (!c->name) {
		free(c);
		return NULL;
	}
	*tail = c;		/* appended: first-seen order, stable output */
	return c;
}

int flamegraph_add(struct flamegraph *fg, const char *const *frames, int n, uint64_t value)
{
	struct fg_node *p = &fg->root;

	p->value += value;
	for (int i = 0; i < n; i++) {
		p = child_get(p, frames[i], strlen(frames[i]));
		if (!p)
			return -ENOMEM;
		p->value += value;
	}
	if (n > fg->max_depth)
		fg->max_depth = n;
	return 0;
}

int flamegraph_add_split(struct flamegraph *fg, const char *comm, const char *user, int nu, bool ulost,
			 const char *kern, int nk, bool klost, size_t stride, uint64_t value)
{
	const char **fr = calloc((size_t)nu + nk + 3, sizeof(*fr));
	char **kbuf = calloc((size_t)nk + 1, sizeof(*kbuf));
	int n = 0, err = -ENOMEM;

	if (!fr || !kbuf)
		goto out;
	fr[n++] = comm;
	if (ulost)
		fr[n++] = "[lost]";
	for (int i = nu - 1; i >= 0; i--)
		fr[n++] = user + (size_t)i * stride;
	if (klost)
		fr[n++] = "[lost]_[k]";
	for (int i = nk - 1; i >= 0; i--) {
		if (asprintf(&kbuf[i], "%.*s_[k]", (int)stride, kern + (size_t)i * stride) < 0) {
			kbuf[i] = NULL;
			goto out;
		}
		fr[n++] = kbuf[i];
	}
	err = flamegraph_add(fg, fr, n, value);
out:
	for (int i = 0; kbuf && i < nk; i++)
		free(kbuf[i]);
	free(kbuf);
	free(fr);
	return err;
}

int flamegraph_add_folded(struct flamegraph *fg, const char *line)
{
	size_t len = strcspn(line, "\n");
	const char *sp, *s, *e;
	struct fg_node *p = &fg->root;
	unsigned long long v;
	char *end;
	int depth = 0;

	while (len && line[len - 1] == ' ')
		len--;
	for (sp = line + len; sp > line && sp[-1] != ' '; sp--)
		;
	/* a count after a space, and at least one frame before it */
	if (sp == line || sp == line + len || sp - 1 == line || line[0] == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(sp, &end, 10);
	if (errno || end != line + len)
		return -EINVAL;
	p->value += v;
	for (s = line; s < sp - 1; s = e + 1) {
		for (e = s; e < sp - 1 && *e != ';'; e++)
			;
		if (e == s)
			continue;	/* empty frame */
		p = child_get(p, s, (size_t)(e - s));
		if (!p)
			return -ENOMEM;
		p->value += v;
		depth++;
	}
	if (depth > fg->max_depth)
		fg->max_depth = depth;
	return 0;
}

static void xml_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&apos;", f); break;
		default:
			/* XML 1.0 forbids most control characters even escaped */
			if (c < 0x20 && c != '\t')
				fputc('?', f);
			else
				fputc(c, f);
		}
	}
}

/* A warm colour from the name (stable across runs); kernel frames orange-red,
 * user frames yellow-red, like flamegraph.pl's "hot" palette. */
static void colour(const char *name, int *r, int *g, int *b)
{
	unsigned int h = 2166136261u;
	size_t len = strlen(name);
	bool kernel = len > 4 && !strcmp(name + len - 4, "_[k]");

	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	if (kernel) {
		*r = 200 + (int)(h % 55);
		*g = 90 + (int)((h >> 8) % 60);
		*b = 40 + (int)((h >> 16) % 30);
	} else {
		*r = 205 + (int)(h % 50);
		*g = 130 + (int)((h >> 8) % 100);
		*b = 40 + (int)((h >> 16) % 40);
	}
}

struct layout {
	FILE *f;
	double scale;		/* px per value unit */
	int height;
	uint64_t total;
	const char *unit;
};

static void draw(const struct layout *L, const struct fg_node *n, uint64_t x, int depth)
{
	double px = FG_PAD + x * L->scale, pw = n->value * L->scale;
	int y = L->height - FG_BOTTOM - (depth + 1) * FG_FRAME_H;
	const char *name = n->name ? n->name : "all";
	int r, g, b, fit;

	if (pw < FG_MIN_PX)
		return;
	if (n->name)
		colour(name, &r, &g, &b);
	else
		r = 220, g = 120, b = 60;
	fprintf(L->f, "<g class=\"f\" data-x=\"%llu\" data-w=\"%llu\" data-d=\"%d\"><title>",
		(unsigned long long)x, (unsigned long long)n->value, depth);
	xml_escape(L->f, name);
	fprintf(L->f, " (%llu %s, %.2f%%)</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" rx=\"2\"/>",
		(unsigned long long)n->value, L->unit, L->total ? 100.0 * n->value / L->total : 0.0,
		px, y, pw, FG_FRAME_H - 1, r, g, b);
	/* roughly 7 px per character at 12 px monospace */
	fit = (int)((pw - 6) / 7);
	fprintf(L->f, "<text x=\"%.2f\" y=\"%d\">", px + 3, y + FG_FRAME_H - 4);
	if (fit >= 3) {
		size_t len = strlen(name);

		if ((size_t)fit >= len) {
			xml_escape(L->f, name);
		} else {
			char *cut = strndup(name, fit - 2);

			if (cut)
				xml_escape(L->f, cut);
			fputs("..", L->f);
			free(cut);
		}
	}
	fputs("</text></g>\n", L->f);
	for (const struct fg_node *c = n->child; c; c = c->next) {
		draw(L, c, x, depth + 1);
		x += c->value;
	}
}

/* The zoom script: frames carry their value-unit x/width and depth; a click
 * re-lays out everything relative to the clicked frame, hides what is outside
 * it, greys its ancestors; the names are re-cut from the <title>. */
static const char fg_script[] =
	"var W=%d,P=%d,zx=0,zw=%llu,zd=0;\n"
	"function nm(g){var t=g.querySelector('title').textContent;return t.substring(0,t.lastIndexOf(' ('));}\n"
	"function lay(){var fs=document.querySelectorAll('g.f');for(var i=0;i<fs.length;i++){var g=fs[i],"
	"x=+g.getAttribute('data-x'),w=+g.getAttribute('data-w'),d=+g.getAttribute('data-d'),"
	"r=g.querySelector('rect'),t=g.querySelector('text');"
	"if(x+w<=zx||x>=zx+zw||(d<zd&&!(x<=zx&&x+w>=zx+zw))){g.style.display='none';continue;}"
	"g.style.display='';var a=Math.max(x,zx),b=Math.min(x+w,zx+zw),px=P+(a-zx)*(W-2*P)/zw,pw=(b-a)*(W-2*P)/zw;"
	"r.setAttribute('x',px);r.setAttribute('width',pw);r.style.opacity=d<zd?0.5:1;t.setAttribute('x',px+3);"
	"var n=nm(g),f=Math.floor((pw-6)/7);t.textContent=f<3?'':(n.length<=f?n:n.substring(0,f-2)+'..');}"
	"document.getElementById('unzoom').style.opacity=zw<%llu?1:0.3;}\n"
	"function zoom(g){zx=+g.getAttribute('data-x');zw=Math.max(1,+g.getAttribute('data-w'));zd=+g.getAttribute('data-d');lay();}\n"
	"function reset(){zx=0;zw=%llu;zd=0;lay();}\n"
	"document.addEventListener('click',function(e){var g=e.target.closest?e.target.closest('g.f'):null;"
	"if(g)zoom(g);else if(e.target.id==='unzoom')reset();});\n"
	"document.addEventListener('mousemove',function(e){var g=e.target.closest?e.target.closest('g.f'):null;"
	"document.getElementById('details').textContent=g?g.querySelector('title').textContent:' ';});\n";

int flamegraph_write(const struct flamegraph *fg, FILE *f, const char *title, const char *unit)
{
	uint64_t total = fg->root.value ? fg->root.value : 1;
	struct layout L = {
		.f = f, .total = fg->root.value, .unit = unit,
		.height = FG_TOP + (fg->max_depth + 1) * FG_FRAME_H + FG_BOTTOM,
		.scale = (double)(FG_WIDTH - 2 * FG_PAD) / total,
	};

	fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
		"xmlns=\"http://www.w3.org/2000/svg\">\n"
		"<style>text{font-family:monospace;font-size:12px;fill:#000}g.f{cursor:pointer}"
		"g.f:hover rect{stroke:#000;stroke-width:0.5}#title{font-size:17px}"
		"#unzoom{cursor:pointer}</style>\n"
		"<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#f8f8f0\"/>\n",
		FG_WIDTH, L.height, FG_WIDTH, L.height, FG_WIDTH, L.height);
	fputs("<text id=\"title\" x=\"600\" y=\"24\" text-anchor=\"middle\">", f);
	xml_escape(f, title ? title : "Flame Graph");
	fputs("</text>\n<text id=\"unzoom\" x=\"10\" y=\"24\" style=\"opacity:0.3\">Reset Zoom</text>\n", f);
	fprintf(f, "<text id=\"details\" x=\"10\" y=\"%d\"> </text>\n", L.height - 8);
	if (!fg->root.value)
		fputs("<text x=\"600\" y=\"60\" text-anchor=\"middle\">no samples</text>\n", f);
	else
		draw(&L, &fg->root, 0, 0);
	fputs("<script type=\"text/ecmascript\"><![CDATA[\n", f);
	fprintf(f, fg_script, FG_WIDTH, FG_PAD, (unsigned long long)total,
		(unsigned long long)total, (unsigned long long)total);
	fputs("]]></script>\n</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}

int flamegraph_write_file(const struct flamegraph *fg, const char *path, const char *title,
			  const char *unit)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto out;
	}
	err = flamegraph_write(fg, f, title, unit);
	if (fchmod(fd, 0644) && !err)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
out:
	if (err)
		unlink(tmp);
	return err;
}

int flamegraph_from_folded(FILE *in, const char *path, const char *title, const char *unit)
{
	struct flamegraph *fg = flamegraph_new();
	char *line = NULL;
	size_t cap = 0;
	int err = 0;

	if (!fg)
		return -errno;
	while (getline(&line, &cap, in) > 0) {
		int e = flamegraph_add_folded(fg, line);

		if (e == -ENOMEM) {
			err = e;
			goto out;
		}
	}
	err = flamegraph_write_file(fg, path, title, unit);
out:
	free(line);
	flamegraph_free(fg);
	return err;
}
