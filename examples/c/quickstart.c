/* accounts-rs from C: create a server on an SQLite file, create a user, log in, resume, refresh,
 * verify the email and reset the password with mailed links (a sendMail callback), impersonate
 * (with an authorize callback), deactivate, log out.
 *   cc quickstart.c $(pkg-config --cflags --libs accounts) && ./a.out [db-path] */
#include <accounts.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *step, accounts_error *err) {
    fprintf(stderr, "%s failed: %s: %s\n", step, accounts_result_name(accounts_error_code(err)), accounts_error_message(err));
    accounts_error_free(err);
    return 1;
}

/* Extracts "key":"value" from the library's JSON (values used here contain no escapes). */
static char *field(const char *json, const char *key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    char *out = malloc(n + 1);
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

/* Only users named "admin" may impersonate. */
static void authorize(void *user_data, const char *input_json, accounts_callback_result *result) {
    (void)user_data;
    /* input is {"target": {...}, "user": {...}}; a real program would use a JSON parser */
    const char *user = strstr(input_json, "\"user\":{");
    const char *name = user ? strstr(user, "\"username\":") : NULL;
    int admin = name != NULL && strncmp(name, "\"username\":\"admin\"", strlen("\"username\":\"admin\"")) == 0;
    accounts_callback_result_set_json(result, admin ? "true" : "false");
}

/* Delivers mail; this one keeps the token at the end of the link (a real one would send it). */
static void send_mail(void *user_data, const char *mail_json, accounts_callback_result *result) {
    (void)result;
    char *token = user_data;
    const char *text = strstr(mail_json, "\"text\":\"");
    const char *end = text ? strchr(text + 8, '"') : NULL;
    token[0] = 0;
    if (!end) return;
    const char *slash = end;
    while (slash > text && *slash != '/') slash--;
    size_t n = (size_t)(end - slash - 1);
    if (n < 128) {
        memcpy(token, slash + 1, n);
        token[n] = 0;
    }
}

int main(int argc, char **argv) {
    const char *db = argc > 1 ? argv[1] : "quickstart.db";
    char config[512];
    snprintf(config, sizeof config, "{\"db\":\"sqlite:%s\",\"tokenSecret\":\"%s\"}", db,
             getenv("ACCOUNTS_TOKEN_SECRET") ? getenv("ACCOUNTS_TOKEN_SECRET") : "change-me-to-32-or-more-random-bytes!!");
    accounts_error *err = NULL;
    accounts_callbacks *callbacks = accounts_callbacks_new();
    if (accounts_callbacks_set(callbacks, "impersonationAuthorize", authorize, NULL, &err) != ACCOUNTS_OK) return fail("callbacks", err);
    static char mailed_token[128];
    if (accounts_callbacks_set(callbacks, "sendMail", send_mail, mailed_token, &err) != ACCOUNTS_OK) return fail("callbacks", err);
    accounts_server *server = NULL;
    if (accounts_server_new(config, callbacks, &server, &err) != ACCOUNTS_OK) return fail("server_new", err);
    accounts_callbacks_free(callbacks);
    printf("accounts-rs %s, database %s\n", accounts_version(), db);

    char *admin_id = NULL, *user_id = NULL;
    if (accounts_password_create_user(server, "{\"username\":\"admin\",\"email\":\"admin@example.com\",\"password\":\"admin-password\"}", &admin_id, &err) != ACCOUNTS_OK)
        return fail("create admin", err);
    if (accounts_password_create_user(server, "{\"username\":\"jane\",\"email\":\"jane@example.com\",\"password\":\"jane-password\"}", &user_id, &err) != ACCOUNTS_OK)
        return fail("create jane", err);
    printf("1. created users admin=%s jane=%s\n", admin_id, user_id);

    if (accounts_password_send_verification_email(server, "admin@example.com", &err) != ACCOUNTS_OK) return fail("send verification", err);
    if (accounts_password_verify_email(server, mailed_token, &err) != ACCOUNTS_OK) return fail("verify email", err);
    printf("2. mailed admin a verification link and followed it: email verified\n");

    if (accounts_password_send_reset_password_email(server, "admin@example.com", &err) != ACCOUNTS_OK) return fail("send reset", err);
    char *reset = NULL;
    if (accounts_password_reset_password(server, mailed_token, "new-admin-password", NULL, NULL, &reset, &err) != ACCOUNTS_OK)
        return fail("reset password", err);
    accounts_string_free(reset);
    printf("3. mailed admin a reset link and set a new password with it\n");

    char *login = NULL;
    if (accounts_server_login_with_service(server, "password", "{\"user\":{\"email\":\"admin@example.com\"},\"password\":\"new-admin-password\"}",
                                           "{\"ip\":\"127.0.0.1\",\"userAgent\":\"quickstart\"}", &login, &err) != ACCOUNTS_OK)
        return fail("login", err);
    char *access = field(login, "accessToken"), *refresh = field(login, "refreshToken");
    char *session_id = field(login, "sessionId");
    printf("4. logged in as admin, session %s\n", session_id);
    free(session_id);

    char *user = NULL;
    if (accounts_server_resume_session(server, access, &user, &err) != ACCOUNTS_OK) return fail("resume", err);
    printf("5. resumed session: %s\n", user);
    accounts_string_free(user);

    char *refreshed = NULL;
    if (accounts_server_refresh_tokens(server, access, refresh, NULL, &refreshed, &err) != ACCOUNTS_OK) return fail("refresh", err);
    free(access);
    free(refresh);
    access = field(refreshed, "accessToken");
    printf("6. refreshed tokens (the old refresh token is now spent)\n");

    char *impersonation = NULL;
    if (accounts_server_impersonate(server, access, "{\"username\":\"jane\"}", NULL, &impersonation, &err) != ACCOUNTS_OK)
        return fail("impersonate", err);
    printf("7. impersonate jane: %s\n", strstr(impersonation, "\"authorized\":true") ? "authorized" : "denied");
    accounts_string_free(impersonation);

    if (accounts_server_deactivate_user(server, user_id, &err) != ACCOUNTS_OK) return fail("deactivate", err);
    char *jane_login = NULL;
    accounts_result r = accounts_server_login_with_service(server, "password", "{\"user\":\"jane\",\"password\":\"jane-password\"}", NULL, &jane_login, &err);
    printf("8. deactivated jane; her login now fails with %s\n", accounts_result_name(r));
    accounts_error_free(err);
    err = NULL;

    if (accounts_server_logout(server, access, &err) != ACCOUNTS_OK) return fail("logout", err);
    r = accounts_server_resume_session(server, access, &user, &err);
    printf("9. logged out; resuming the session now fails with %s\n", accounts_result_name(r));
    accounts_error_free(err);

    free(access);
    accounts_string_free(refreshed);
    accounts_string_free(login);
    accounts_string_free(admin_id);
    accounts_string_free(user_id);
    accounts_server_free(server);
    return r == ACCOUNTS_INVALID_SESSION ? 0 : 1;
}
