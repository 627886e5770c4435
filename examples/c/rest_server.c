/* The accounts-js REST API from C (docs/web.md): libmicrohttpd serves HTTP, accounts-rs's
 * accounts_server_handle_http does everything else — routes, cookie sessions, CSRF, the client's
 * address. This file only translates a request into the library's JSON and the answer back.
 *
 *   make rest-server        (installs libmicrohttpd-dev when missing)
 *   PORT=8080 ./build/c/rest_server          → http://127.0.0.1:8080/accounts/...
 *
 * Settings by environment: PORT (default 8080), ACCOUNTS_CONFIG (the server's JSON config; default
 * an SQLite file, a random secret and passkeys for a page on http://localhost:PORT), ACCOUNTS_DEV_INBOX=1 (keep the mail sendMail gets and serve
 * it at GET /dev/mails: every reset link, so never in production). The app's own route GET /api/me
 * shows how to guard one with accounts_server_http_user. */
#define _POSIX_C_SOURCE 200809L
#include <accounts.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOUNT "/accounts"
#define MAX_BODY (64 * 1024) /* web.maxBodyBytes: the library answers 413 past it */

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
static buf inbox; /* the mails as JSON values, comma-separated */

static void keep_mail(void *user_data, const char *mail_json, accounts_callback_result *result) {
    (void)user_data;
    (void)result;
    pthread_mutex_lock(&inbox_lock);
    if (inbox.len) puts_(&inbox, ",");
    puts_(&inbox, mail_json);
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
    if (strncmp(url, MOUNT "/", strlen(MOUNT "/")) == 0) {
        request_json(&req, c, method, url + strlen(MOUNT), up);
        if (accounts_server_handle_http(server, req.data, &out, &err) == ACCOUNTS_OK) ok = send_library_response(c, out);
        else ok = send_json(c, 500, "{\"message\":\"request not understood\"}");
    } else if (strcmp(url, "/api/me") == 0) {
        /* An app route: the user of the bearer token or (cookie mode) the CSRF-checked cookie. */
        request_json(&req, c, method, url, NULL);
        if (accounts_server_http_user(server, req.data, &out, &err) != ACCOUNTS_OK) {
            const char *details = accounts_error_details_json(err);
            unsigned status = details && strstr(details, "\"status\":403") ? 403 : 400;
            buf msg = {0};
            puts_(&msg, "{\"message\":");
            put_json_string(&msg, accounts_error_message(err), strlen(accounts_error_message(err)));
            puts_(&msg, ",\"code\":");
            put_json_string(&msg, accounts_error_code_name(err), strlen(accounts_error_code_name(err)));
            puts_(&msg, "}");
            ok = send_json(c, status, msg.data);
            free(msg.data);
        } else if (strcmp(out, "null") == 0) {
            ok = send_json(c, 401, "{\"message\":\"Unauthorized\"}");
        } else {
            /* out is {"accessToken": "...", "user": {...}} (keys sorted): answer {"user": {...}}. */
            buf me = {0};
            const char *user = strstr(out, ",\"user\":");
            puts_(&me, "{");
            puts_(&me, user ? user + 1 : "\"user\":null}");
            ok = send_json(c, 200, me.data);
            free(me.data);
        }
    } else if (dev_inbox && strcmp(url, "/dev/mails") == 0) {
        pthread_mutex_lock(&inbox_lock);
        puts_(&req, "[");
        if (inbox.len) puts_(&req, inbox.data);
        puts_(&req, "]");
        pthread_mutex_unlock(&inbox_lock);
        ok = send_json(c, 200, req.data);
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

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

int main(void) {
    const char *port = getenv("PORT") ? getenv("PORT") : "8080";
    const char *config = getenv("ACCOUNTS_CONFIG");
    char fallback[512];
    if (!config) {
        unsigned char secret[32];
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(secret, 1, sizeof secret, f) != sizeof secret) return 1;
        fclose(f);
        char hex[65];
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", secret[i]);
        /* Passkeys (docs/passkeys.md) for a page on http://localhost:PORT (localhost needs no https). */
        snprintf(fallback, sizeof fallback,
                 "{\"db\":\"sqlite:accounts-example.db\",\"tokenSecret\":\"%s\",\"services\":{\"webauthn\":"
                 "{\"rpId\":\"localhost\",\"rpName\":\"accounts-rs example\",\"origins\":[\"http://localhost:%s\"]}}}",
                 hex, port);
        config = fallback;
    }
    dev_inbox = getenv("ACCOUNTS_DEV_INBOX") && strcmp(getenv("ACCOUNTS_DEV_INBOX"), "1") == 0;
    accounts_callbacks *callbacks = accounts_callbacks_new();
    accounts_error *err = NULL;
    if (dev_inbox) {
        fprintf(stderr, "WARNING: ACCOUNTS_DEV_INBOX=1 serves every mail this server sends (reset links included) at /dev/mails. Never in production.\n");
        accounts_callbacks_set(callbacks, "sendMail", keep_mail, NULL, &err);
    }
    accounts_server *server = NULL;
    if (accounts_server_new(config, callbacks, &server, &err) != ACCOUNTS_OK) {
        fprintf(stderr, "accounts_server_new: %s\n", accounts_error_message(err));
        accounts_error_free(err);
        return 1;
    }
    accounts_callbacks_free(callbacks);
    /* Loopback only: put a TLS-terminating proxy in front (and name it in web.trustedProxies). */
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG, (uint16_t)atoi(port),
                                            NULL, NULL, handle, server, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                            MHD_OPTION_NOTIFY_COMPLETED, finished, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "cannot listen on port %s\n", port);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "accounts-rs C REST server on http://127.0.0.1:%s" MOUNT "\n", port);
    while (!stop) pause();
    MHD_stop_daemon(d);
    accounts_server_free(server);
    free(inbox.data);
    return 0;
}
