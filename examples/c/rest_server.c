/* The accounts-js REST API from C (docs/web.md), and the third example app (README, "Example apps"):
 * libmicrohttpd serves HTTP, accounts-rs's accounts_server_handle_http does everything else under
 * /accounts — routes, cookie sessions, CSRF, the client's address. This file translates a request
 * into the library's JSON and the answer back, serves the shared page of examples/web and the few
 * app routes it calls (/api/me, /api/sessions, /api/sessions/revoke, /api/qr.svg, /api/oauth/providers).
 *
 *   make rest-server        (installs libmicrohttpd-dev and libqrencode-dev when missing)
 *   PORT=8080 ./build/c/rest_server          → http://localhost:8080
 *
 * Settings by environment, as the Express and FastAPI apps: PORT (default 8080), ACCOUNTS_DB (default
 * sqlite:accounts-example.db), ACCOUNTS_TOKEN_SECRET (default random per start), ACCESS_TOKEN_SECONDS
 * (default 900), ACCOUNTS_DEV_INBOX=1 (keep the mail sendMail gets and serve it at /dev/mails and
 * /inbox: every reset link, so never in production), "Sign in with" an OpenID provider
 * (docs/oauth.md): OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_LABEL (register
 * http://localhost:PORT/auth/callback as the redirect URI). ACCOUNTS_WEB_DIR: the page's directory
 * (default examples/web of the checkout it was built in). ACCOUNTS_CONFIG, when set, is the server's
 * whole JSON config instead. Passkeys work on http://localhost:PORT (browsers treat localhost as
 * secure; elsewhere WebAuthn needs https). */
#define _POSIX_C_SOURCE 200809L
#include <accounts.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <qrencode.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOUNT "/accounts"
#define MAX_BODY (64 * 1024) /* web.maxBodyBytes: the library answers 413 past it */
#ifndef EXAMPLE_WEB_DIR
#define EXAMPLE_WEB_DIR "examples/web" /* the Makefile passes the checkout's absolute path */
#endif

/* ---- a growable string ---- */
typedef struct {
    char *data;
    size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

/* A JSON string literal of `s` (n bytes; bytes >= 0x80 pass through: headers are Latin-1 / UTF-8). */
static void put_json_string(buf *b, const char *s, size_t n) {
    puts_(b, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20 || c >= 0x7f) {
            /* Bytes above ASCII as Latin-1 code points, as Node and ASGI hand headers over: the
             * request JSON stays valid UTF-8 whatever the client sent. */
            snprintf(esc, sizeof esc, "\\u%04x", c);
            puts_(b, esc);
        } else {
            put(b, (const char *)&c, 1);
        }
    }
    puts_(b, "\"");
}

static void put_base64(buf *b, const unsigned char *s, size_t n) {
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        char out[4] = {A[v >> 18 & 63], A[v >> 12 & 63], i + 1 < n ? A[v >> 6 & 63] : '=', i + 2 < n ? A[v & 63] : '='};
        put(b, out, 4);
    }
}

/* Reads the JSON string literal at *p (the library's output) into `out`; advances *p past it. */
static int read_string(const char **p, buf *out) {
    const char *s = *p;
    if (*s++ != '"') return 0;
    while (*s && *s != '"') {
        if (*s != '\\') {
            put(out, s++, 1);
            continue;
        }
        s++;
        char c = *s++;
        const char *simple = strchr("\"\\/bfnrt", c);
        if (simple && c) {
            static const char to[] = "\"\\/\b\f\n\r\t";
            put(out, &to[simple - "\"\\/bfnrt"], 1);
        } else if (c == 'u') {
            unsigned cp = (unsigned)strtoul((char[5]){s[0], s[1], s[2], s[3], 0}, NULL, 16);
            s += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && s[0] == '\\' && s[1] == 'u') {
                unsigned lo = (unsigned)strtoul((char[5]){s[2], s[3], s[4], s[5], 0}, NULL, 16);
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                s += 6;
            }
            char u[4];
            size_t n = cp < 0x80 ? (u[0] = (char)cp, 1)
                       : cp < 0x800 ? (u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), 2)
                       : cp < 0x10000 ? (u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 63)), u[2] = (char)(0x80 | (cp & 63)), 3)
                                      : (u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 63)), u[2] = (char)(0x80 | (cp >> 6 & 63)),
                                         u[3] = (char)(0x80 | (cp & 63)), 4);
            put(out, u, n);
        } else {
            return 0;
        }
    }
    if (*s != '"') return 0;
    *p = s + 1;
    if (!out->data) put(out, "", 0);
    return 1;
}

/* ---- the development inbox ---- */
static pthread_mutex_t inbox_lock = PTHREAD_MUTEX_INITIALIZER;
static buf inbox; /* the mails as JSON values, comma-separated, newest first */

static void keep_mail(void *user_data, const char *mail_json, accounts_callback_result *result) {
    (void)user_data;
    (void)result;
    buf mails = {0};
    puts_(&mails, mail_json);
    pthread_mutex_lock(&inbox_lock);
    if (inbox.len) {
        puts_(&mails, ",");
        put(&mails, inbox.data, inbox.len);
    }
    free(inbox.data);
    inbox = mails;
    pthread_mutex_unlock(&inbox_lock);
}

/* ---- requests ---- */
typedef struct {
    buf body;
} upload;

static enum MHD_Result header_pair(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    buf *headers = cls;
    if (headers->data[headers->len - 1] != '[') puts_(headers, ",");
    puts_(headers, "[");
    put_json_string(headers, key, strlen(key));
    puts_(headers, ",");
    put_json_string(headers, value ? value : "", value ? strlen(value) : 0);
    puts_(headers, "]");
    return MHD_YES;
}

/* The library's request JSON for this connection; `path` is below the mount. */
static void request_json(buf *out, struct MHD_Connection *c, const char *method, const char *path, const upload *up) {
    puts_(out, "{\"method\":");
    put_json_string(out, method, strlen(method));
    puts_(out, ",\"path\":");
    put_json_string(out, path, strlen(path));
    puts_(out, ",\"headers\":[");
    MHD_get_connection_values(c, MHD_HEADER_KIND, header_pair, out);
    puts_(out, "]");
    if (up && up->body.len) {
        puts_(out, ",\"bodyBase64\":\"");
        put_base64(out, (const unsigned char *)up->body.data, up->body.len);
        puts_(out, "\"");
    }
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char ip[INET6_ADDRSTRLEN] = "";
    if (info && info->client_addr) {
        const struct sockaddr *sa = info->client_addr;
        if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, ip, sizeof ip);
        if (sa->sa_family == AF_INET6) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, ip, sizeof ip);
    }
    if (ip[0]) {
        puts_(out, ",\"peer\":");
        put_json_string(out, ip, strlen(ip));
    }
    puts_(out, "}");
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "content-type", "application/json; charset=utf-8");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* The library's response JSON {"status", "headers": [[n, v], ...], "body"} as an HTTP response. */
static enum MHD_Result send_library_response(struct MHD_Connection *c, const char *json) {
    const char *p = strstr(json, "\"status\":");
    unsigned status = p ? (unsigned)strtoul(p + 9, NULL, 10) : 500;
    buf body = {0};
    const char *b = strstr(json, "],\"body\":");
    if (!b || (b += 9, !read_string(&b, &body))) return send_json(c, 500, "{\"message\":\"unreadable response\"}");
    struct MHD_Response *r = MHD_create_response_from_buffer(body.len, body.data, MHD_RESPMEM_MUST_COPY);
    const char *h = strstr(json, "\"headers\":[");
    for (h = h ? h + 11 : NULL; h && *h == '['; h += *h == ',' ? 1 : 0) {
        buf name = {0}, value = {0};
        h++;
        if (!read_string(&h, &name) || *h++ != ',' || !read_string(&h, &value) || *h++ != ']') {
            free(name.data);
            free(value.data);
            break;
        }
        MHD_add_response_header(r, name.data, value.data);
        free(name.data);
        free(value.data);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    free(body.data);
    return ok;
}

static int dev_inbox;
static const char *oidc_label; /* "Sign in with" provider "corp", when OIDC_ISSUER is set */

/* ---- the page: examples/web, read once at start; only these three files ---- */
static struct {
    const char *url, *file, *type;
    buf body;
} web[] = {
    {"/", "index.html", "text/html; charset=utf-8", {0}},
    {"/static/app.js", "app.js", "text/javascript; charset=utf-8", {0}},
    {"/static/style.css", "style.css", "text/css; charset=utf-8", {0}},
};
#define WEB_FILES (sizeof web / sizeof web[0])

static int load_web(const char *dir) {
    for (size_t i = 0; i < WEB_FILES; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, web[i].file);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "cannot read %s (set ACCOUNTS_WEB_DIR to examples/web)\n", path);
            return 0;
        }
        char chunk[4096];
        size_t n;
        put(&web[i].body, "", 0);
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) put(&web[i].body, chunk, n);
        fclose(f);
    }
    /* The page names its backend. */
    buf *page = &web[0].body, named = {0};
    const char *mark = strstr(page->data, "{{backend}}");
    if (mark) {
        put(&named, page->data, (size_t)(mark - page->data));
        puts_(&named, "C + libmicrohttpd");
        puts_(&named, mark + strlen("{{backend}}"));
        free(page->data);
        *page = named;
    }
    return 1;
}

/* The page for its own paths (the client routes on the token in the path); NULL for any other URL. */
static const buf *web_file(const char *url, const char **type) {
    static const char *const page_routes[] = {"/inbox", "/auth/callback"};
    static const char *const token_routes[] = {"/verify-email/", "/reset-password/", "/magiclink/"};
    size_t i = 0;
    for (size_t k = 0; k < sizeof page_routes / sizeof *page_routes; k++)
        if (strcmp(url, page_routes[k]) == 0) goto page;
    for (size_t k = 0; k < sizeof token_routes / sizeof *token_routes; k++) {
        size_t n = strlen(token_routes[k]);
        if (strncmp(url, token_routes[k], n) == 0 && url[n] && !strchr(url + n, '/')) goto page;
    }
    for (i = 0; i < WEB_FILES; i++) /* exact names: nothing else of the directory is reachable */
        if (strcmp(url, web[i].url) == 0) goto page;
    return NULL;
page:
    *type = web[i].type;
    return &web[i].body;
}

static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type, const char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "content-type", type);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- the app's own routes ---- */

/* The JSON string value of the first `"key":` in `json` into `out` (the library's compact output). */
static int json_string(const char *json, const char *key, buf *out) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = json ? strstr(json, pattern) : NULL;
    return p && (p += strlen(pattern), read_string(&p, out));
}

/* The signed-in caller (`*out` is {"accessToken", "user"}); otherwise queues the refusal in `*ok`. */
static int signed_in(accounts_server *server, struct MHD_Connection *c, const char *method, const char *url, char **out, enum MHD_Result *ok) {
    buf req = {0};
    accounts_error *err = NULL;
    request_json(&req, c, method, url, NULL);
    int found = accounts_server_http_user(server, req.data, out, &err) == ACCOUNTS_OK;
    free(req.data);
    if (!found) {
        const char *details = accounts_error_details_json(err);
        unsigned status = details && strstr(details, "\"status\":403") ? 403 : 400;
        buf msg = {0};
        puts_(&msg, "{\"message\":");
        put_json_string(&msg, accounts_error_message(err), strlen(accounts_error_message(err)));
        puts_(&msg, ",\"code\":");
        put_json_string(&msg, accounts_error_code_name(err), strlen(accounts_error_code_name(err)));
        puts_(&msg, "}");
        *ok = send_json(c, status, msg.data);
        free(msg.data);
        accounts_error_free(err);
        return 0;
    }
    if (strcmp(*out, "null") == 0) {
        *ok = send_json(c, 401, "{\"message\":\"Unauthorized\"}");
        return 0;
    }
    return 1;
}

/* The caller's session (its "id" and "userId") from the access token in `me`. */
static char *own_session(accounts_server *server, const char *me) {
    buf token = {0};
    char *session = NULL;
    accounts_error *err = NULL;
    if (json_string(me, "accessToken", &token) && accounts_server_find_session_by_access_token(server, token.data, &session, &err) != ACCOUNTS_OK) session = NULL;
    accounts_error_free(err);
    free(token.data);
    return session;
}

/* GET /api/sessions: the caller's valid sessions, each with "current". The library's array holds
 * flat objects (no nested braces): each is copied with "current" added, invalid ones left out. */
static enum MHD_Result list_sessions(accounts_server *server, struct MHD_Connection *c, const char *me) {
    char *session = own_session(server, me), *all = NULL;
    buf current = {0}, user = {0}, out = {0};
    accounts_error *err = NULL;
    enum MHD_Result ok;
    if (!json_string(session, "id", &current) || !json_string(session, "userId", &user) ||
        accounts_server_list_sessions(server, user.data, &all, &err) != ACCOUNTS_OK) {
        ok = send_json(c, 500, "{\"message\":\"sessions unavailable\"}");
    } else {
        puts_(&out, "{\"sessions\":[");
        for (const char *s = strchr(all, '{'); s; s = strchr(s, '{')) {
            const char *end = s; /* the closing brace outside strings */
            for (int in_string = 0; *end && (in_string || *end != '}'); end++) {
                if (*end == '\\' && in_string) end++;
                else if (*end == '"') in_string = !in_string;
            }
            if (!*end) break;
            buf one = {0}, id = {0};
            put(&one, s, (size_t)(end - s + 1));
            if (strstr(one.data, "\"valid\":true") && json_string(one.data, "id", &id)) {
                if (out.data[out.len - 1] != '[') puts_(&out, ",");
                puts_(&out, strcmp(id.data, current.data) == 0 ? "{\"current\":true," : "{\"current\":false,");
                puts_(&out, one.data + 1);
            }
            free(one.data);
            free(id.data);
            s = end + 1;
        }
        puts_(&out, "]}");
        ok = send_json(c, 200, out.data);
    }
    accounts_string_free(session);
    accounts_string_free(all);
    accounts_error_free(err);
    free(current.data);
    free(user.data);
    free(out.data);
    return ok;
}

/* POST /api/sessions/revoke {"sessionId"}: only one of the caller's own sessions. */
static enum MHD_Result revoke_session(accounts_server *server, struct MHD_Connection *c, const char *me, const upload *up) {
    char *session = own_session(server, me), *all = NULL;
    buf user = {0}, wanted = {0}, quoted = {0};
    accounts_error *err = NULL;
    bool was_valid;
    enum MHD_Result ok;
    if (up->body.data && json_string(up->body.data, "sessionId", &wanted)) {
        puts_(&quoted, "\"id\":");
        put_json_string(&quoted, wanted.data, wanted.len);
    }
    if (!quoted.data) ok = send_json(c, 400, "{\"message\":\"sessionId expected\"}");
    else if (!json_string(session, "userId", &user) || accounts_server_list_sessions(server, user.data, &all, &err) != ACCOUNTS_OK)
        ok = send_json(c, 500, "{\"message\":\"sessions unavailable\"}");
    else if (!strstr(all, quoted.data)) ok = send_json(c, 404, "{\"message\":\"Session not found\"}");
    else if (accounts_server_revoke_session(server, wanted.data, &was_valid, &err) != ACCOUNTS_OK) ok = send_json(c, 404, "{\"message\":\"Session not found\"}");
    else ok = send_json(c, 200, "{}");
    accounts_string_free(session);
    accounts_string_free(all);
    accounts_error_free(err);
    free(user.data);
    free(wanted.data);
    free(quoted.data);
    return ok;
}

/* GET /api/qr.svg?data=otpauth://...: the two-factor secret's QR code (libqrencode) as SVG. */
static enum MHD_Result qr_svg(struct MHD_Connection *c) {
    const char *data = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "data");
    if (!data || strncmp(data, "otpauth://", 10) != 0) return send_json(c, 400, "{\"message\":\"Not an otpauth URL\"}");
    QRcode *qr = QRcode_encodeString(data, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) return send_json(c, 400, "{\"message\":\"Not encodable\"}");
    int side = qr->width + 2; /* a one-module quiet zone */
    char cell[48];
    buf svg = {0};
    puts_(&svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ");
    snprintf(cell, sizeof cell, "%d %d\" width=\"%d\" height=\"%d\">", side, side, side * 4, side * 4);
    puts_(&svg, cell);
    puts_(&svg, "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path fill=\"#000\" d=\"");
    for (int y = 0; y < qr->width; y++)
        for (int x = 0; x < qr->width; x++)
            if (qr->data[y * qr->width + x] & 1) {
                snprintf(cell, sizeof cell, "M%d %dh1v1h-1z", x + 1, y + 1);
                puts_(&svg, cell);
            }
    puts_(&svg, "\"/></svg>");
    QRcode_free(qr);
    enum MHD_Result ok = send_body(c, 200, "image/svg+xml", svg.data, svg.len);
    free(svg.data);
    return ok;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
                              const char *upload_data, size_t *upload_data_size, void **state) {
    (void)version;
    accounts_server *server = cls;
    upload *up = *state;
    if (!up) { /* the headers arrived: collect the body in the next calls */
        *state = up = calloc(1, sizeof *up);
        return up ? MHD_YES : MHD_NO;
    }
    if (*upload_data_size) {
        /* Keep at most MAX_BODY + 1 bytes: the library answers 413 past the limit. */
        size_t room = MAX_BODY + 1 - up->body.len;
        if (room) put(&up->body, upload_data, *upload_data_size < room ? *upload_data_size : room);
        *upload_data_size = 0;
        return MHD_YES;
    }
    buf req = {0};
    char *out = NULL;
    accounts_error *err = NULL;
    enum MHD_Result ok;
    const char *type;
    const buf *file;
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strncmp(url, MOUNT "/", strlen(MOUNT "/")) == 0) {
        request_json(&req, c, method, url + strlen(MOUNT), up);
        if (accounts_server_handle_http(server, req.data, &out, &err) == ACCOUNTS_OK) ok = send_library_response(c, out);
        else ok = send_json(c, 500, "{\"message\":\"request not understood\"}");
    } else if (strcmp(url, "/api/me") == 0) {
        /* An app route: the user of the bearer token or (cookie mode) the CSRF-checked cookie. */
        if (signed_in(server, c, method, url, &out, &ok)) {
            /* out is {"accessToken": "...", "user": {...}} (keys sorted): answer {"user": {...}}. */
            buf me = {0};
            const char *user = strstr(out, ",\"user\":");
            puts_(&me, "{");
            puts_(&me, user ? user + 1 : "\"user\":null}");
            ok = send_json(c, 200, me.data);
            free(me.data);
        }
    } else if (get && strcmp(url, "/api/sessions") == 0) {
        if (signed_in(server, c, method, url, &out, &ok)) ok = list_sessions(server, c, out);
    } else if (strcmp(method, "POST") == 0 && strcmp(url, "/api/sessions/revoke") == 0) {
        if (signed_in(server, c, method, url, &out, &ok)) ok = revoke_session(server, c, out, up);
    } else if (get && strcmp(url, "/api/qr.svg") == 0) {
        if (signed_in(server, c, method, url, &out, &ok)) ok = qr_svg(c);
    } else if (get && strcmp(url, "/api/oauth/providers") == 0) {
        puts_(&req, "{\"providers\":[");
        if (oidc_label) {
            puts_(&req, "{\"name\":\"corp\",\"label\":");
            put_json_string(&req, oidc_label, strlen(oidc_label));
            puts_(&req, "}");
        }
        puts_(&req, "]}");
        ok = send_json(c, 200, req.data);
    } else if (dev_inbox && get && strcmp(url, "/dev/mails") == 0) {
        pthread_mutex_lock(&inbox_lock);
        puts_(&req, "{\"mails\":[");
        if (inbox.len) puts_(&req, inbox.data);
        puts_(&req, "]}");
        pthread_mutex_unlock(&inbox_lock);
        ok = send_json(c, 200, req.data);
    } else if (get && (file = web_file(url, &type))) {
        ok = send_body(c, 200, type, file->data, file->len);
    } else {
        ok = send_json(c, 404, "{\"message\":\"Not Found\"}");
    }
    accounts_string_free(out);
    accounts_error_free(err);
    free(req.data);
    return ok;
}

static void finished(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode why) {
    (void)cls, (void)c, (void)why;
    upload *up = *state;
    if (up) free(up->body.data);
    free(up);
    *state = NULL;
}

static const char *env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* The server's config as the Express and FastAPI apps build it (examples/express/server.js). */
static int build_config(buf *config, const char *port) {
    char site[64], hex[65], seconds[24];
    snprintf(site, sizeof site, "http://localhost:%s", port);
    const char *secret = getenv("ACCOUNTS_TOKEN_SECRET");
    if (!secret || !*secret) { /* a random secret per start logs everybody out on restart */
        unsigned char bytes[32];
        FILE *f = fopen("/dev/urandom", "rb");
        size_t n = f ? fread(bytes, 1, sizeof bytes, f) : 0;
        if (f) fclose(f);
        if (n != sizeof bytes) return 0;
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
        secret = hex;
    }
    char *end;
    long expires = strtol(env("ACCESS_TOKEN_SECONDS", "900"), &end, 10);
    if (*end || expires <= 0) return 0;
    snprintf(seconds, sizeof seconds, "%ld", expires);
    const char *db = env("ACCOUNTS_DB", "sqlite:accounts-example.db");
    puts_(config, "{\"db\":");
    put_json_string(config, db, strlen(db));
    puts_(config, ",\"tokenSecret\":");
    put_json_string(config, secret, strlen(secret));
    puts_(config, ",\"siteUrl\":");
    put_json_string(config, site, strlen(site));
    puts_(config, ",\"tokenConfigs\":{\"accessToken\":{\"expiresIn\":");
    puts_(config, seconds);
    puts_(config, "}},\"services\":{\"password\":{\"requireEmailVerification\":true,\"sendVerificationEmailAfterSignup\":true,"
                  "\"returnTokensAfterResetPassword\":true}");
    if (getenv("OIDC_ISSUER")) { /* an OpenID provider, as provider "corp" */
        const char *fields[][2] = {{"issuer", "OIDC_ISSUER"}, {"clientId", "OIDC_CLIENT_ID"}, {"clientSecret", "OIDC_CLIENT_SECRET"}};
        puts_(config, ",\"oauth\":{\"providers\":{\"corp\":{\"type\":\"oidc\",\"redirectUri\":\"");
        puts_(config, site);
        puts_(config, "/auth/callback\"");
        for (size_t i = 0; i < 3; i++) {
            const char *v = getenv(fields[i][1]);
            if (!v) continue;
            puts_(config, ",\"");
            puts_(config, fields[i][0]);
            puts_(config, "\":");
            put_json_string(config, v, strlen(v));
        }
        puts_(config, "}}}");
        oidc_label = env("OIDC_LABEL", "your company");
    }
    /* Passkeys (docs/passkeys.md): the rp id is the site's host; the browser's origin must be listed. */
    puts_(config, ",\"webauthn\":{\"rpId\":\"localhost\",\"rpName\":\"accounts-rs example\",\"origins\":[");
    put_json_string(config, site, strlen(site));
    /* Plain http on localhost during development: Secure (__Host-) cookies need https elsewhere, so
     * keep them secure (the default) in production. */
    puts_(config, "]}},\"web\":{\"cookies\":{\"secure\":");
    puts_(config, strcmp(env("ENVIRONMENT", ""), "production") == 0 ? "true" : "false");
    puts_(config, "}}}");
    return 1;
}

int main(void) {
    /* SIGTERM and SIGINT blocked in every thread (the library's and libmicrohttpd's
     * inherit the mask): main waits for them. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    const char *port = env("PORT", "8080");
    if (strspn(port, "0123456789") != strlen(port) || atoi(port) <= 0 || atoi(port) > 65535) {
        fprintf(stderr, "PORT is not a port: %s\n", port);
        return 1;
    }
    buf config = {0};
    if (getenv("ACCOUNTS_CONFIG")) puts_(&config, getenv("ACCOUNTS_CONFIG"));
    else if (!build_config(&config, port)) {
        fprintf(stderr, "no config: ACCESS_TOKEN_SECONDS must be a positive number of seconds\n");
        free(config.data);
        return 1;
    }
    if (!load_web(env("ACCOUNTS_WEB_DIR", EXAMPLE_WEB_DIR))) {
        free(config.data);
        for (size_t i = 0; i < WEB_FILES; i++) free(web[i].body.data);
        return 1;
    }
    dev_inbox = getenv("ACCOUNTS_DEV_INBOX") && strcmp(getenv("ACCOUNTS_DEV_INBOX"), "1") == 0;
    accounts_callbacks *callbacks = accounts_callbacks_new();
    accounts_error *err = NULL;
    if (dev_inbox) {
        fprintf(stderr, "WARNING: ACCOUNTS_DEV_INBOX=1 serves every mail this server sends (reset links included) at /dev/mails. Never in production.\n");
        accounts_callbacks_set(callbacks, "sendMail", keep_mail, NULL, &err);
    }
    accounts_server *server = NULL;
    int created = accounts_server_new(config.data, callbacks, &server, &err) == ACCOUNTS_OK;
    accounts_callbacks_free(callbacks);
    free(config.data);
    if (!created) {
        fprintf(stderr, "accounts_server_new: %s\n", accounts_error_message(err));
        accounts_error_free(err);
        for (size_t i = 0; i < WEB_FILES; i++) free(web[i].body.data);
        return 1;
    }
    /* Loopback only: put a TLS-terminating proxy in front (and name it in web.trustedProxies). */
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, (uint16_t)atoi(port),
                                            NULL, NULL, handle, server, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, finished, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot listen on port %s\n", port);
        accounts_server_free(server);
        for (size_t i = 0; i < WEB_FILES; i++) free(web[i].body.data);
        return 1;
    }
    fprintf(stderr, "accounts-rs C example on http://localhost:%s\n", port);
    int sig;
    sigwait(&signals, &sig);
    MHD_stop_daemon(d);
    accounts_server_free(server);
    free(inbox.data);
    for (size_t i = 0; i < WEB_FILES; i++) free(web[i].body.data);
    return 0;
}
