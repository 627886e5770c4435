/* C tests of every exported function and its error paths. Run under valgrind by `make test`. */
#define _POSIX_C_SOURCE 200809L
#include "accounts.h"
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        checks++;                                                                \
        if (!(cond)) {                                                           \
            failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                        \
    } while (0)

/* Asserts the result code; on failure also checks the error object agrees, then frees it. */
static void expect(accounts_result got, accounts_result want, accounts_error *err, int line) {
    checks++;
    if (got != want) {
        failures++;
        fprintf(stderr, "line %d: got %s, want %s (%s)\n", line, accounts_result_name(got), accounts_result_name(want),
                err ? accounts_error_message(err) : "no error object");
    }
    if (want != ACCOUNTS_OK && err != NULL) {
        CHECK(accounts_error_code(err) == want);
        CHECK(accounts_error_message(err) != NULL && strlen(accounts_error_message(err)) > 0);
    }
    if (want == ACCOUNTS_OK) CHECK(err == NULL);
    accounts_error_free(err);
}
#define EXPECT(call, want)                         \
    do {                                           \
        accounts_error *err = NULL;                \
        accounts_result r_ = (call);               \
        expect(r_, want, err, __LINE__);           \
    } while (0)

/* Copies the string value of "key" from flat-enough JSON (tokens and ids have no escapes). */
static char *json_str(const char *json, const char *key) {
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    const char *end = strchr(p, '"');
    char *out = malloc((size_t)(end - p) + 1);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = 0;
    return out;
}

#define SECRET "c-test-secret-0123456789abcdef-0123456789"
#define FAST "\"services\":{\"password\":{\"hashing\":{\"memoryKib\":256,\"iterations\":1,\"parallelism\":1}}}"
static const char *CONFIG = "{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\"," FAST "}";

/* ---- callbacks ---- */
static void jwt_payload(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    CHECK(strstr(input, "\"data\"") != NULL && strstr(input, "\"user\"") != NULL);
    accounts_callback_result_set_json(res, "{\"role\":\"tester\",\"data\":\"ignored\"}");
}
static void authorize(void *ud, const char *input, accounts_callback_result *res) {
    int *calls = ud;
    (*calls)++;
    /* alice may impersonate anyone but "root" */
    const char *target = strstr(input, "\"target\"");
    accounts_callback_result_set_json(res, strstr(target, "\"root\"") ? "false" : "true");
}
static void sanitize(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    /* append a field: input is a user object; replace the final '}' */
    size_t n = strlen(input);
    char *out = malloc(n + 32);
    memcpy(out, input, n - 1);
    strcpy(out + n - 1, ",\"sanitized\":true}");
    accounts_callback_result_set_json(res, out);
    free(out); /* the library copied it */
}
static void validator(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    if (strstr(input, "\"userAgent\":\"blocked\"")) accounts_callback_result_set_error(res, "Unauthorized", "blocked agent");
}
static void reject_new_user(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    if (strstr(input, "\"mallory\"")) accounts_callback_result_set_error(res, NULL, "no mallory");
}
/* validateUsername: names must start with "u-" (the input is the name as a JSON string) */
static void dash_names(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    accounts_callback_result_set_json(res, strncmp(input, "\"u-", 3) == 0 ? "true" : "false");
}
static void app_denial(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    (void)input;
    accounts_callback_result_set_error(res, "MyAppDenied", "not on weekends");
}
static void bad_json_answer(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    (void)input;
    accounts_callback_result_set_json(res, "{not json");
}
static void count_events(void *ud, const char *input, accounts_callback_result *res) {
    (void)res;
    if (strstr(input, "\"event\":\"LoginSuccess\"")) (*(int *)ud)++;
}
static void veto_login(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    (void)input;
    accounts_callback_result_set_error(res, "Unauthorized", "vetoed");
}

static void test_basics(void) {
    CHECK(strlen(accounts_version()) > 0);
#ifdef ACCOUNTS_EXPECTED_VERSION /* the workspace version, from the Makefile: one version everywhere */
    CHECK(strcmp(accounts_version(), ACCOUNTS_EXPECTED_VERSION) == 0);
#endif
    CHECK(strcmp(accounts_result_name(ACCOUNTS_OK), "OK") == 0);
    CHECK(strcmp(accounts_result_name(ACCOUNTS_INVALID_CREDENTIALS), "InvalidCredentials") == 0);
    CHECK(strcmp(accounts_result_name(ACCOUNTS_REFRESH_TOKEN_REUSED), "RefreshTokenReused") == 0);
    CHECK(strcmp(accounts_result_name(ACCOUNTS_TOO_MANY_ATTEMPTS), "TooManyAttempts") == 0);
    /* a value from a newer header, or garbage, is "Unknown" rather than a crash */
    CHECK(strcmp(accounts_result_name(-1), "Unknown") == 0);
    CHECK(strcmp(accounts_result_name(ACCOUNTS_ACCOUNT_LINK_REFUSED), "AccountLinkRefused") == 0);
    CHECK(strcmp(accounts_result_name(ACCOUNTS_PASSKEY_ALREADY_REGISTERED + 1), "Unknown") == 0);
    CHECK(strcmp(accounts_result_name(1 << 30), "Unknown") == 0);
    CHECK(accounts_error_code(NULL) == ACCOUNTS_INVALID_ARGUMENT);
    CHECK(accounts_error_message(NULL) == NULL);
    CHECK(accounts_error_details_json(NULL) == NULL);
    accounts_error_free(NULL);
    accounts_string_free(NULL);
    accounts_server_free(NULL);
    accounts_callbacks_free(NULL);

    accounts_server *s = NULL;
    EXPECT(accounts_server_new(NULL, NULL, &s, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_new(CONFIG, NULL, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"short\"}", NULL, &s, &err), ACCOUNTS_INVALID_CONFIG);
    EXPECT(accounts_server_new("{nope", NULL, &s, &err), ACCOUNTS_INVALID_CONFIG);
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"ambiguousErrorMessages\":1}", NULL, &s, &err),
           ACCOUNTS_INVALID_CONFIG);
    EXPECT(accounts_server_new("\xff\xfe", NULL, &s, &err), ACCOUNTS_INVALID_ARGUMENT);
    CHECK(s == NULL); /* outputs are written only on success */
    /* a failing call with error_out == NULL still returns its code */
    CHECK(accounts_server_new(NULL, NULL, &s, NULL) == ACCOUNTS_INVALID_ARGUMENT);
    /* error details */
    accounts_error *err = NULL;
    CHECK(accounts_server_logout(NULL, "x", &err) == ACCOUNTS_INVALID_ARGUMENT);
    CHECK(accounts_error_details_json(err) == NULL);
    accounts_error_free(err);
}

static void test_flows(void) {
    int authorize_calls = 0, login_events = 0;
    accounts_callbacks *cbs = accounts_callbacks_new();
    EXPECT(accounts_callbacks_set(cbs, "createJwtPayload", jwt_payload, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "impersonationAuthorize", authorize, &authorize_calls, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "userObjectSanitizer", sanitize, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "resumeSessionValidator", validator, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "validateNewUser", reject_new_user, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "sendMail", reject_new_user, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "noSuchCallback", jwt_payload, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_callbacks_set(cbs, "createJwtPayload", NULL, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_callbacks_set(NULL, "createJwtPayload", jwt_payload, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_callbacks_set(cbs, NULL, jwt_payload, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);

    accounts_server *s = NULL;
    EXPECT(accounts_server_new(CONFIG, cbs, &s, &err), ACCOUNTS_OK);
    accounts_callbacks_free(cbs); /* the server keeps its own copy */
    CHECK(s != NULL);

    char *out = NULL;
    EXPECT(accounts_server_get_services(s, &out, &err), ACCOUNTS_OK);
    CHECK(strcmp(out, "[\"magicLink\",\"password\"]") == 0);
    accounts_string_free(out);
    EXPECT(accounts_server_options(s, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"ambiguousErrorMessages\":true") && strstr(out, "[redacted]") && !strstr(out, SECRET));
    accounts_string_free(out);

    /* password service */
    char *alice = NULL, *bob = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"alice\",\"email\":\"Alice@Example.com\",\"password\":\"correct horse\"}", &alice, &err),
           ACCOUNTS_OK);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"bob\"}", &bob, &err), ACCOUNTS_OK);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"root\"}", &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    EXPECT(accounts_password_create_user(s, "{\"email\":\"alice@example.com\"}", &out, &err), ACCOUNTS_EMAIL_ALREADY_EXISTS);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"alice\"}", &out, &err), ACCOUNTS_USERNAME_ALREADY_EXISTS);
    EXPECT(accounts_password_create_user(s, "{\"password\":\"12345678\"}", &out, &err), ACCOUNTS_USERNAME_OR_EMAIL_REQUIRED);
    EXPECT(accounts_password_create_user(s, "{\"email\":\"nope\"}", &out, &err), ACCOUNTS_INVALID_EMAIL);
    EXPECT(accounts_password_create_user(s, "{\"username\":7}", &out, &err), ACCOUNTS_INVALID_USERNAME);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"x\",\"password\":\"short\"}", &out, &err), ACCOUNTS_INVALID_PASSWORD);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"mallory\"}", &out, &err), ACCOUNTS_CALLBACK_ERROR);
    EXPECT(accounts_password_create_user(s, "[1,2", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_create_user(s, "[1,2]", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_create_user(s, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"zed\"}", NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_create_user(NULL, "{\"username\":\"zed\"}", &out, &err), ACCOUNTS_INVALID_ARGUMENT);

    EXPECT(accounts_password_find_user_by_email(s, "ALICE@example.com", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, alice) && strstr(out, "\"sanitized\":true") && !strstr(out, "argon2"));
    accounts_string_free(out);
    EXPECT(accounts_password_find_user_by_email(s, "ghost@example.com", &out, &err), ACCOUNTS_OK);
    CHECK(strcmp(out, "null") == 0);
    accounts_string_free(out);
    EXPECT(accounts_password_find_user_by_username(s, "bob", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, bob) != NULL);
    accounts_string_free(out);
    EXPECT(accounts_password_find_user_by_username(s, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_authenticate(s, "{\"user\":\"alice\",\"password\":\"correct horse\"}", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, alice) != NULL);
    accounts_string_free(out);
    EXPECT(accounts_password_authenticate(s, "{\"user\":\"alice\",\"password\":\"wrong\"}", &out, &err), ACCOUNTS_INVALID_CREDENTIALS);
    EXPECT(accounts_password_authenticate(s, "{\"user\":\"alice\"}", &out, &err), ACCOUNTS_UNRECOGNIZED_OPTIONS_FOR_LOGIN);
    EXPECT(accounts_password_authenticate(s, "{\"user\":\"alice\",\"password\":1}", &out, &err), ACCOUNTS_MATCH_FAILED);
    EXPECT(accounts_password_set_password(s, bob, "bob-password", &err), ACCOUNTS_OK);
    EXPECT(accounts_password_set_password(s, bob, "short", &err), ACCOUNTS_INVALID_PASSWORD);
    EXPECT(accounts_password_set_password(s, "ghost", "long-enough-pw", &err), ACCOUNTS_USER_NOT_FOUND);
    EXPECT(accounts_password_set_password(s, bob, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);

    /* listeners */
    uint64_t listener = 0, veto = 0;
    EXPECT(accounts_server_on(s, "LoginSuccess", count_events, &login_events, &listener, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_on(s, "LoginSuccess", NULL, NULL, &listener, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_on(s, "ValidateLogin", veto_login, NULL, &veto, &err), ACCOUNTS_OK);
    const char *alice_login = "{\"user\":{\"email\":\"alice@example.com\"},\"password\":\"correct horse\"}";
    EXPECT(accounts_server_login_with_service(s, "password", alice_login, NULL, &out, &err), ACCOUNTS_UNAUTHORIZED);
    bool removed = false;
    EXPECT(accounts_server_off(s, veto, &removed, &err), ACCOUNTS_OK);
    CHECK(removed);
    EXPECT(accounts_server_off(s, veto, NULL, &err), ACCOUNTS_OK);

    /* login / resume / refresh / logout */
    char *login = NULL;
    EXPECT(accounts_server_login_with_service(s, "password", alice_login, "{\"ip\":\"127.0.0.1\",\"userAgent\":\"c-test\"}", &login, &err),
           ACCOUNTS_OK);
    CHECK(login_events == 1);
    char *at = json_str(login, "accessToken"), *rt = json_str(login, "refreshToken"), *sid = json_str(login, "sessionId");
    CHECK(at && rt && sid && strstr(login, "\"sanitized\":true"));
    EXPECT(accounts_server_login_with_service(s, "nope", alice_login, NULL, &out, &err), ACCOUNTS_SERVICE_NOT_FOUND);
    EXPECT(accounts_server_login_with_service(s, "password", "{\"user\":\"alice\",\"password\":\"bad\"}", NULL, &out, &err),
           ACCOUNTS_INVALID_CREDENTIALS);
    EXPECT(accounts_server_login_with_service(s, "password", alice_login, "{\"ip\":5}", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_login_with_service(s, "password", alice_login, NULL, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    bool authed = false;
    EXPECT(accounts_server_authenticate_with_service(s, "password", alice_login, NULL, &authed, &err), ACCOUNTS_OK);
    CHECK(authed);
    EXPECT(accounts_server_authenticate_with_service(s, "password", "{\"user\":\"alice\",\"password\":\"x\"}", NULL, &authed, &err),
           ACCOUNTS_INVALID_CREDENTIALS);

    EXPECT(accounts_server_resume_session(s, at, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, alice) != NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_resume_session(s, "garbage", &out, &err), ACCOUNTS_TOKEN_VERIFICATION_FAILED);
    EXPECT(accounts_server_resume_session(s, "", &out, &err), ACCOUNTS_INVALID_TOKEN);
    EXPECT(accounts_server_resume_session(s, rt, &out, &err), ACCOUNTS_TOKEN_VERIFICATION_FAILED);
    EXPECT(accounts_server_resume_session(s, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_find_session_by_access_token(s, at, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"userAgent\":\"c-test\"") && strstr(out, sid));
    accounts_string_free(out);
    EXPECT(accounts_server_find_user_by_id(s, alice, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "alice@example.com") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_find_user_by_id(s, "ghost", &out, &err), ACCOUNTS_OK);
    CHECK(strcmp(out, "null") == 0);
    accounts_string_free(out);

    char *refreshed = NULL;
    EXPECT(accounts_server_refresh_tokens(s, at, rt, NULL, &refreshed, &err), ACCOUNTS_OK);
    char *at2 = json_str(refreshed, "accessToken"), *rt2 = json_str(refreshed, "refreshToken");
    CHECK(strcmp(rt, rt2) != 0);
    EXPECT(accounts_server_refresh_tokens(s, at, "", NULL, &out, &err), ACCOUNTS_INVALID_TOKENS);
    EXPECT(accounts_server_refresh_tokens(s, at, NULL, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);

    /* sessions */
    EXPECT(accounts_server_list_sessions(s, alice, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"refreshCount\":1") != NULL && !strstr(out, "digest"));
    accounts_string_free(out);
    char *login2 = NULL;
    EXPECT(accounts_server_login_with_user(s, alice, NULL, &login2, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_login_with_user(s, "ghost", NULL, &out, &err), ACCOUNTS_USER_NOT_FOUND);
    char *sid2 = json_str(login2, "sessionId"), *at3 = json_str(login2, "accessToken");
    bool was_valid = false;
    EXPECT(accounts_server_revoke_session(s, sid2, &was_valid, &err), ACCOUNTS_OK);
    CHECK(was_valid);
    EXPECT(accounts_server_revoke_session(s, "nope", &was_valid, &err), ACCOUNTS_SESSION_NOT_FOUND);
    EXPECT(accounts_server_resume_session(s, at3, &out, &err), ACCOUNTS_INVALID_SESSION);
    uint64_t revoked = 99;
    EXPECT(accounts_server_revoke_all_sessions(s, alice, "{\"except\":\"whatever\"}", &revoked, &err), ACCOUNTS_OK);
    CHECK(revoked == 1);
    EXPECT(accounts_server_revoke_all_sessions(s, alice, "{\"exept\":1}", &revoked, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_resume_session(s, at2, &out, &err), ACCOUNTS_INVALID_SESSION);

    /* a blocked user agent is rejected by resumeSessionValidator with its own code */
    char *blocked = NULL;
    EXPECT(accounts_server_login_with_user(s, alice, "{\"userAgent\":\"blocked\"}", &blocked, &err), ACCOUNTS_OK);
    char *at_blocked = json_str(blocked, "accessToken");
    EXPECT(accounts_server_resume_session(s, at_blocked, &out, &err), ACCOUNTS_UNAUTHORIZED);

    /* impersonation, with the authorize callback */
    char *fresh = NULL;
    EXPECT(accounts_server_login_with_service(s, "password", alice_login, NULL, &fresh, &err), ACCOUNTS_OK);
    char *at4 = json_str(fresh, "accessToken"), *rt4 = json_str(fresh, "refreshToken");
    EXPECT(accounts_server_impersonate(s, at4, "{\"username\":\"bob\"}", NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"authorized\":true") && strstr(out, bob));
    char *imp_at = json_str(out, "accessToken");
    accounts_string_free(out);
    char *imp_user = NULL;
    EXPECT(accounts_server_resume_session(s, imp_at, &imp_user, &err), ACCOUNTS_OK);
    CHECK(strstr(imp_user, bob) != NULL);
    accounts_string_free(imp_user);
    EXPECT(accounts_server_impersonate(s, at4, "{\"username\":\"root\"}", NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"authorized\":false") != NULL);
    accounts_string_free(out);
    CHECK(authorize_calls == 2);
    EXPECT(accounts_server_impersonate(s, at4, "{\"nobody\":1}", NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    /* as accounts-js: a target naming no field names nobody (ambiguous mode: not authorized) */
    EXPECT(accounts_server_impersonate(s, at4, "{}", NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"authorized\":false") != NULL);
    accounts_string_free(out);

    /* reuse of a rotated refresh token outside the grace window is covered in core; here: deactivation */
    EXPECT(accounts_server_deactivate_user(s, alice, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_resume_session(s, at4, &out, &err), ACCOUNTS_USER_DEACTIVATED);
    EXPECT(accounts_server_refresh_tokens(s, at4, rt4, NULL, &out, &err), ACCOUNTS_USER_DEACTIVATED);
    EXPECT(accounts_server_activate_user(s, alice, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_deactivate_user(s, "ghost", &err), ACCOUNTS_USER_NOT_FOUND);
    EXPECT(accounts_server_activate_user(s, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);

    EXPECT(accounts_server_logout(s, at4, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_logout(s, at4, &err), ACCOUNTS_INVALID_SESSION);
    EXPECT(accounts_server_logout(s, "x.y.z", &err), ACCOUNTS_TOKEN_VERIFICATION_FAILED);

    free(at); free(rt); free(sid); free(at2); free(rt2); free(sid2); free(at3); free(at4); free(rt4);
    free(imp_at); free(at_blocked);
    accounts_string_free(login); accounts_string_free(refreshed); accounts_string_free(login2);
    accounts_string_free(blocked); accounts_string_free(fresh);
    accounts_string_free(alice); accounts_string_free(bob);
    accounts_server_free(s);
}

static void test_callback_errors(void) {
    accounts_callbacks *cbs = accounts_callbacks_new();
    EXPECT(accounts_callbacks_set(cbs, "createJwtPayload", bad_json_answer, NULL, &err), ACCOUNTS_OK);
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(CONFIG, cbs, &s, &err), ACCOUNTS_OK);
    accounts_callbacks_free(cbs);
    char *id = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"u\",\"password\":\"password1\"}", &id, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_login_with_user(s, id, NULL, &out, &err), ACCOUNTS_CALLBACK_ERROR);
    accounts_string_free(id);
    accounts_server_free(s);

    /* A callback's own code string and message reach the caller unchanged (any string). */
    cbs = accounts_callbacks_new();
    EXPECT(accounts_callbacks_set(cbs, "validateNewUser", app_denial, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_new(CONFIG, cbs, &s, &err), ACCOUNTS_OK);
    accounts_callbacks_free(cbs);
    accounts_error *err = NULL;
    CHECK(accounts_password_create_user(s, "{\"username\":\"x\"}", &id, &err) == ACCOUNTS_CALLBACK_ERROR);
    CHECK(err != NULL && strcmp(accounts_error_code_name(err), "MyAppDenied") == 0);
    CHECK(err != NULL && strcmp(accounts_error_message(err), "not on weekends") == 0);
    accounts_error_free(err);
    err = NULL;
    CHECK(accounts_server_resume_session(s, "x", &out, &err) == ACCOUNTS_TOKEN_VERIFICATION_FAILED);
    CHECK(err != NULL && strcmp(accounts_error_code_name(err), "TokenVerificationFailed") == 0);
    accounts_error_free(err);
    CHECK(accounts_error_code_name(NULL) == NULL);
    accounts_server_free(s);
}

static void test_refresh_reuse_details(void) {
    accounts_server *s = NULL;
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"refreshTokenReuseGraceSeconds\":0," FAST "}", NULL, &s, &err),
           ACCOUNTS_OK);
    char *id = NULL, *login = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"u\"}", &id, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_login_with_user(s, id, NULL, &login, &err), ACCOUNTS_OK);
    char *at = json_str(login, "accessToken"), *rt = json_str(login, "refreshToken");
    EXPECT(accounts_server_refresh_tokens(s, at, rt, NULL, &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    accounts_error *err = NULL;
    CHECK(accounts_server_refresh_tokens(s, at, rt, NULL, &out, &err) == ACCOUNTS_REFRESH_TOKEN_REUSED);
    CHECK(accounts_error_details_json(err) != NULL && strstr(accounts_error_details_json(err), "sessionId"));
    accounts_error_free(err);
    EXPECT(accounts_server_resume_session(s, at, &out, &err), ACCOUNTS_INVALID_SESSION);
    free(at); free(rt);
    accounts_string_free(login); accounts_string_free(id);
    accounts_server_free(s);
}

/* ---- threads: logins and resumes on one handle at once ---- */
struct worker { accounts_server *s; int index; int errors; };

static void *worker_main(void *arg) {
    struct worker *w = arg;
    char params[160];
    snprintf(params, sizeof params, "{\"user\":\"user%d\",\"password\":\"password-%d\"}", w->index, w->index);
    for (int i = 0; i < 10; i++) {
        char *login = NULL, *user = NULL;
        if (accounts_server_login_with_service(w->s, "password", params, NULL, &login, NULL) != ACCOUNTS_OK) { w->errors++; continue; }
        char *at = json_str(login, "accessToken");
        if (accounts_server_resume_session(w->s, at, &user, NULL) != ACCOUNTS_OK) w->errors++;
        accounts_string_free(user);
        if (accounts_server_logout(w->s, at, NULL) != ACCOUNTS_OK) w->errors++;
        free(at);
        accounts_string_free(login);
    }
    return NULL;
}

static void test_threads(const char *dir) {
    char config[512], path[400];
    const char *suffixes[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) { /* start from an empty database */
        snprintf(path, sizeof path, "%s/threads.db%s", dir, suffixes[i]);
        remove(path);
    }
    snprintf(config, sizeof config, "{\"db\":\"sqlite:%s/threads.db\",\"tokenSecret\":\"" SECRET "\"," FAST "}", dir);
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(config, NULL, &s, &err), ACCOUNTS_OK);
    enum { N = 4 };
    pthread_t threads[N];
    struct worker workers[N];
    for (int i = 0; i < N; i++) {
        char user[128], *id = NULL;
        snprintf(user, sizeof user, "{\"username\":\"user%d\",\"password\":\"password-%d\"}", i, i);
        EXPECT(accounts_password_create_user(s, user, &id, &err), ACCOUNTS_OK);
        accounts_string_free(id);
        workers[i] = (struct worker){ s, i, 0 };
        pthread_create(&threads[i], NULL, worker_main, &workers[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].errors == 0);
    }
    accounts_server_free(s);
}

/* ---- account flows: mail captured by a sendMail callback, TOTP codes from oathtool ---- */
struct mailbox {
    int count;
    char last[4096];
};
static void capture_mail(void *ud, const char *input, accounts_callback_result *res) {
    (void)res;
    struct mailbox *m = ud;
    m->count++;
    snprintf(m->last, sizeof m->last, "%s", input);
}
/* Copies the 64-hex-digit token after "/<path>/" in the last mail into out[65]. */
static int link_token(const struct mailbox *m, const char *path, char *out) {
    const char *p = strstr(m->last, path);
    if (!p) return 0;
    p += strlen(path);
    size_t n = strspn(p, "0123456789abcdef");
    if (n != 64) return 0;
    memcpy(out, p, 64);
    out[64] = 0;
    return 1;
}
/* The current TOTP code of a base32 secret, computed by oathtool (independent of the library). */
static int totp_now(const char *base32, char *out) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "oathtool --totp -b '%s'", base32);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    int ok = fgets(out, 16, f) != NULL;
    pclose(f);
    out[strcspn(out, "\n")] = 0;
    return ok && strlen(out) == 6;
}

static void test_account_flows(void) {
    struct mailbox mail = { 0, "" };
    accounts_callbacks *cbs = accounts_callbacks_new();
    EXPECT(accounts_callbacks_set(cbs, "sendMail", capture_mail, &mail, &err), ACCOUNTS_OK);
    accounts_server *s = NULL;
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"siteUrl\":\"https://app.example\"," FAST "}",
                               cbs, &s, &err),
           ACCOUNTS_OK);
    accounts_callbacks_free(cbs);
    char *dana = NULL, *out = NULL, token[65];
    EXPECT(accounts_password_create_user(s, "{\"email\":\"dana@example.com\",\"password\":\"first password\"}", &dana, &err), ACCOUNTS_OK);

    /* emails */
    EXPECT(accounts_password_add_email(s, dana, "Second@Example.com", false, &err), ACCOUNTS_OK);
    EXPECT(accounts_password_add_email(s, dana, "second@example.com", false, &err), ACCOUNTS_EMAIL_ALREADY_EXISTS);
    EXPECT(accounts_password_add_email(s, dana, "nope", false, &err), ACCOUNTS_INVALID_EMAIL);
    EXPECT(accounts_password_add_email(s, "missing", "x@y.co", false, &err), ACCOUNTS_USER_NOT_FOUND);
    EXPECT(accounts_password_add_email(s, dana, NULL, false, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_remove_email(s, dana, "second@example.com", &err), ACCOUNTS_OK);
    EXPECT(accounts_password_remove_email(s, dana, "second@example.com", &err), ACCOUNTS_EMAIL_NOT_FOUND);
    EXPECT(accounts_password_remove_email(s, dana, "dana@example.com", &err), ACCOUNTS_NO_EMAIL_SET);
    EXPECT(accounts_password_remove_email(NULL, dana, "dana@example.com", &err), ACCOUNTS_INVALID_ARGUMENT);

    /* verification */
    EXPECT(accounts_password_send_verification_email(s, "DANA@example.com", &err), ACCOUNTS_OK);
    CHECK(mail.count == 1 && strstr(mail.last, "\"to\":\"dana@example.com\""));
    CHECK(link_token(&mail, "https://app.example/verify-email/", token));
    EXPECT(accounts_password_verify_email(s, token, &err), ACCOUNTS_OK);
    EXPECT(accounts_password_verify_email(s, token, &err), ACCOUNTS_VERIFY_EMAIL_LINK_EXPIRED);
    EXPECT(accounts_password_verify_email(s, "", &err), ACCOUNTS_INVALID_TOKEN);
    EXPECT(accounts_password_verify_email(s, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_find_user_by_email(s, "dana@example.com", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"verified\":true") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_password_send_verification_email(s, "ghost@example.com", &err), ACCOUNTS_OK);
    EXPECT(accounts_password_send_verification_email(s, "not an address", &err), ACCOUNTS_INVALID_EMAIL);
    CHECK(mail.count == 1); /* nothing sent for an unknown address, nothing said either */

    /* reset */
    EXPECT(accounts_password_send_reset_password_email(s, "dana@example.com", &err), ACCOUNTS_OK);
    CHECK(link_token(&mail, "/reset-password/", token));
    EXPECT(accounts_password_reset_password(s, token, "short", NULL, NULL, &out, &err), ACCOUNTS_INVALID_NEW_PASSWORD);
    EXPECT(accounts_password_reset_password(s, token, "second password", NULL, NULL, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_reset_password(s, token, "second password", NULL, "{\"ip\":1}", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_reset_password(s, token, "second password", NULL, NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strcmp(out, "null") == 0);
    accounts_string_free(out);
    CHECK(strstr(mail.last, "\"type\":\"passwordChanged\"") != NULL);
    EXPECT(accounts_password_reset_password(s, token, "third password", NULL, NULL, &out, &err), ACCOUNTS_RESET_PASSWORD_LINK_EXPIRED);
    EXPECT(accounts_password_reset_password(s, "", "third password", NULL, NULL, &out, &err), ACCOUNTS_INVALID_TOKEN);
    EXPECT(accounts_password_send_reset_password_email(s, "ghost@example.com", &err), ACCOUNTS_OK);
    EXPECT(accounts_password_send_enrollment_email(s, "ghost@example.com", &err), ACCOUNTS_USER_NOT_FOUND);
    EXPECT(accounts_password_send_enrollment_email(s, "dana@example.com", &err), ACCOUNTS_OK);
    CHECK(link_token(&mail, "/enroll-account/", token));

    /* change password */
    EXPECT(accounts_password_change_password(s, dana, "first password", "third password", &err), ACCOUNTS_INVALID_CREDENTIALS);
    EXPECT(accounts_password_change_password(s, dana, "second password", "short", &err), ACCOUNTS_INVALID_PASSWORD); /* accounts-js's code */
    EXPECT(accounts_password_change_password(s, dana, "second password", "third password", &err), ACCOUNTS_OK);
    EXPECT(accounts_password_change_password(s, dana, NULL, "third password", &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_authenticate(s, "{\"user\":\"dana@example.com\",\"password\":\"third password\"}", &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);

    /* two-factor */
    bool on = true;
    EXPECT(accounts_password_two_factor_is_set(s, dana, &on, &err), ACCOUNTS_OK);
    CHECK(!on);
    EXPECT(accounts_password_two_factor_get_new_auth_secret(s, &out, &err), ACCOUNTS_OK);
    char *base32 = json_str(out, "base32");
    CHECK(base32 != NULL && strstr(out, "otpauth://totp/") != NULL);
    char *url = json_str(out, "otpauthUrl"), *url_js = json_str(out, "otpauth_url"); /* accounts-js's name too */
    CHECK(url != NULL && url_js != NULL && strcmp(url, url_js) == 0);
    free(url);
    free(url_js);
    /* speakeasy's shape, as accounts-js returns it: the ASCII secret, its bytes in hex */
    char *ascii = json_str(out, "ascii"), *hexed = json_str(out, "hex");
    CHECK(ascii != NULL && hexed != NULL && strlen(ascii) == 32 && strlen(hexed) == 64);
    for (size_t i = 0; ascii != NULL && hexed != NULL && i < strlen(ascii); i++) {
        unsigned byte = 0;
        CHECK(sscanf(hexed + 2 * i, "%2x", &byte) == 1 && byte == (unsigned char)ascii[i]);
    }
    free(ascii);
    free(hexed);
    accounts_string_free(out);
    char code[16];
    CHECK(totp_now(base32, code));
    EXPECT(accounts_password_two_factor_set(s, dana, "!!!", code, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_password_two_factor_set(s, dana, base32, code, &out, &err), ACCOUNTS_OK);
    char first_code[40] = { 0 };
    sscanf(out, "[\"%39[^\"]", first_code);
    CHECK(strlen(first_code) == 17);
    accounts_string_free(out);
    EXPECT(accounts_password_two_factor_set(s, dana, base32, code, &out, &err), ACCOUNTS_TWO_FACTOR_ALREADY_SET);
    EXPECT(accounts_password_two_factor_is_set(s, dana, &on, &err), ACCOUNTS_OK);
    CHECK(on);
    const char *login = "{\"user\":{\"email\":\"dana@example.com\"},\"password\":\"third password\"}";
    EXPECT(accounts_server_login_with_service(s, "password", login, NULL, &out, &err), ACCOUNTS_TWO_FACTOR_CODE_REQUIRED);
    char with_code[256];
    snprintf(with_code, sizeof with_code, "{\"user\":\"dana@example.com\",\"password\":\"third password\",\"code\":\"%s\"}", code);
    EXPECT(accounts_server_login_with_service(s, "password", with_code, NULL, &out, &err), ACCOUNTS_TWO_FACTOR_CODE_DID_NOT_MATCH);
    snprintf(with_code, sizeof with_code, "{\"user\":\"dana@example.com\",\"password\":\"third password\",\"code\":\"%s\"}", first_code);
    EXPECT(accounts_server_login_with_service(s, "password", with_code, NULL, &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    EXPECT(accounts_server_login_with_service(s, "password", with_code, NULL, &out, &err), ACCOUNTS_TWO_FACTOR_CODE_DID_NOT_MATCH);
    EXPECT(accounts_password_two_factor_regenerate_recovery_codes(s, dana, first_code, &out, &err), ACCOUNTS_TWO_FACTOR_CODE_DID_NOT_MATCH);
    EXPECT(accounts_password_two_factor_unset(s, dana, "12345", &err), ACCOUNTS_TWO_FACTOR_CODE_DID_NOT_MATCH);
    EXPECT(accounts_password_two_factor_unset(s, "missing", "12345", &err), ACCOUNTS_USER_NOT_FOUND);
    free(base32);

    /* magic link (two-factor is still on: the link needs a code too) */
    EXPECT(accounts_magic_link_request_magic_link_email(s, "dana@example.com", &err), ACCOUNTS_OK);
    CHECK(link_token(&mail, "https://app.example/magiclink/", token));
    char params[128];
    snprintf(params, sizeof params, "{\"token\":\"%s\"}", token);
    EXPECT(accounts_server_login_with_service(s, "magicLink", params, NULL, &out, &err), ACCOUNTS_TWO_FACTOR_CODE_REQUIRED);
    /* the failed login did not use the link up */
    EXPECT(accounts_server_login_with_service(s, "magicLink", params, NULL, &out, &err), ACCOUNTS_TWO_FACTOR_CODE_REQUIRED);
    EXPECT(accounts_server_login_with_service(s, "magicLink", "{}", NULL, &out, &err), ACCOUNTS_UNRECOGNIZED_OPTIONS_FOR_LOGIN);
    EXPECT(accounts_server_login_with_service(s, "magicLink", "{\"token\":5}", NULL, &out, &err), ACCOUNTS_MATCH_FAILED);
    EXPECT(accounts_magic_link_request_magic_link_email(s, "ghost@example.com", &err), ACCOUNTS_OK);
    EXPECT(accounts_magic_link_request_magic_link_email(s, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    char *erin = NULL;
    EXPECT(accounts_password_create_user(s, "{\"email\":\"erin@example.com\"}", &erin, &err), ACCOUNTS_OK);
    EXPECT(accounts_magic_link_request_magic_link_email(s, "erin@example.com", &err), ACCOUNTS_OK);
    CHECK(link_token(&mail, "/magiclink/", token));
    snprintf(params, sizeof params, "{\"token\":\"%s\"}", token);
    EXPECT(accounts_server_login_with_service(s, "magicLink", params, NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, erin) && strstr(out, "\"verified\":true") && strstr(out, "\"accessToken\""));
    accounts_string_free(out);
    EXPECT(accounts_server_login_with_service(s, "magicLink", params, NULL, &out, &err), ACCOUNTS_LOGIN_TOKEN_EXPIRED);

    accounts_string_free(erin);
    accounts_string_free(dana);
    accounts_server_free(s);
}

/* Attempt limits, their coded refusal with retryAfter, and the maintenance purge. */
static void test_security(void) {
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(CONFIG, NULL, &s, &err), ACCOUNTS_OK);
    char *id = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"gail\",\"password\":\"gail's password\"}", &id, &err), ACCOUNTS_OK);
    const char *wrong = "{\"user\":\"gail\",\"password\":\"a wrong guess\"}";
    const char *right = "{\"user\":\"gail\",\"password\":\"gail's password\"}";
    const char *from = "{\"ip\":\"198.51.100.7\"}";
    for (int i = 0; i < 5; i++) EXPECT(accounts_server_login_with_service(s, "password", wrong, from, &out, &err), ACCOUNTS_INVALID_CREDENTIALS);
    accounts_error *err = NULL;
    CHECK(accounts_server_login_with_service(s, "password", right, from, &out, &err) == ACCOUNTS_TOO_MANY_ATTEMPTS);
    CHECK(err != NULL && accounts_error_code(err) == ACCOUNTS_TOO_MANY_ATTEMPTS);
    CHECK(err != NULL && accounts_error_details_json(err) != NULL && strstr(accounts_error_details_json(err), "\"retryAfter\":900"));
    accounts_error_free(err);
    /* another client address is not locked out */
    EXPECT(accounts_server_login_with_service(s, "password", right, "{\"ip\":\"203.0.113.9\"}", &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    /* identifiers that look alike are one account; invisible characters are refused */
    EXPECT(accounts_password_create_user(s, "{\"username\":\"GAIL\"}", &out, &err), ACCOUNTS_USERNAME_ALREADY_EXISTS);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"ga\\u200bil\"}", &out, &err), ACCOUNTS_INVALID_USERNAME);
    EXPECT(accounts_server_purge_expired(s, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"tokens\":0") && strstr(out, "\"attempts\":0"));
    accounts_string_free(out);
    EXPECT(accounts_server_purge_expired(s, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_purge_expired(NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    accounts_string_free(id);
    accounts_server_free(s);
}

/* Signup as accounts-js: extra fields dropped, its default username rule, host validators. */
static void test_signup_rules(void) {
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(CONFIG, NULL, &s, &err), ACCOUNTS_OK);
    char *id = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"eve\",\"password\":\"long enough\",\"isAdmin\":true}", &id, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_find_user_by_id(s, id, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"eve\"") != NULL && strstr(out, "isAdmin") == NULL);
    accounts_string_free(out);
    accounts_string_free(id);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"\"}", &id, &err), ACCOUNTS_USERNAME_OR_EMAIL_REQUIRED);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"with-dash\"}", &id, &err), ACCOUNTS_INVALID_USERNAME);
    /* Ambiguous errors: the password is judged before uniqueness (the other order would tell
     * which names exist through the register route). */
    EXPECT(accounts_password_create_user(s, "{\"username\":\"eve\",\"password\":\"short\"}", &id, &err), ACCOUNTS_INVALID_PASSWORD);
    accounts_server_free(s);

    accounts_callbacks *cbs = accounts_callbacks_new();
    EXPECT(accounts_callbacks_set(cbs, "validateUsername", dash_names, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_new(CONFIG, cbs, &s, &err), ACCOUNTS_OK);
    accounts_callbacks_free(cbs);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"u-dash\"}", &id, &err), ACCOUNTS_OK);
    accounts_string_free(id);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"plain\"}", &id, &err), ACCOUNTS_INVALID_USERNAME);
    /* the library's identifier rules still apply under a host rule */
    EXPECT(accounts_password_create_user(s, "{\"username\":\"u-DASH\"}", &id, &err), ACCOUNTS_USERNAME_ALREADY_EXISTS);
    accounts_server_free(s);
}

/* Importing accounts-js users (a mongo document as mongoexport writes it): the old bcrypt password
 * and TOTP secret work; a re-run skips; a bad record is reported by index. */
static void test_import(void) {
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(CONFIG, NULL, &s, &err), ACCOUNTS_OK);
    const char *records =
        "[{\"_id\":{\"$oid\":\"65a1f0000000000000000001\"},\"username\":\"ann\","
        "\"emails\":[{\"address\":\"ann@example.com\",\"verified\":true}],"
        "\"services\":{\"password\":{\"bcrypt\":\"$2a$10$pvzKKpSmH2KGpDIYF5I8iuhcDMMir.Zv8.wVnXUNIA57zFhZ8i/WS\"},"
        "\"two-factor\":{\"secret\":{\"base32\":\"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\"}}},"
        "\"createdAt\":{\"$date\":\"2023-11-14T22:13:20.000Z\"}},"
        "{\"_id\":\"2\",\"username\":\"ANN\"}]";
    char *out = NULL;
    EXPECT(accounts_server_import_users(s, records, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"imported\":1") && strstr(out, "\"skipped\":0") && strstr(out, "\"index\":1")
          && strstr(out, "\"code\":\"UsernameAlreadyExists\""));
    accounts_string_free(out);
    EXPECT(accounts_server_import_users(s, records, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"skipped\":1") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_import_users(s, "{\"not\":\"an array\"}", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_import_users(s, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    char code[16], params[256];
    CHECK(totp_now("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", code));
    snprintf(params, sizeof params, "{\"user\":\"ann\",\"password\":\"ann's old password\",\"code\":\"%s\"}", code);
    EXPECT(accounts_server_login_with_service(s, "password", params, NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "65a1f0000000000000000001") && strstr(out, "\"verified\":true"));
    accounts_string_free(out);
    accounts_server_free(s);
}

/* prepareMail: gets accounts-js's arguments by name; answers the mail to send. */
static void custom_mail(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    CHECK(strstr(input, "\"pathFragment\":\"reset-password\"") && strstr(input, "\"emailTemplate\":{") && strstr(input, "\"username\":\"ann\""));
    accounts_callback_result_set_json(res, "{\"to\":\"ann@example.com\",\"subject\":\"custom subject\",\"text\":\"hello\"}");
}
/* validateEmail / validatePassword: only example.org addresses, only passwords of 3+ characters */
static void org_only(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    accounts_callback_result_set_json(res, strstr(input, "@example.org\"") ? "true" : "false");
}
static void three_plus(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    accounts_callback_result_set_json(res, strlen(input) >= 5 ? "true" : "false"); /* a JSON string: 3+ chars and quotes */
}

/* Keeps a copy of the last LoginSuccess / LogoutError listener input ({"event", "payload"}). */
struct seen_events {
    char login[2048];
    char logout_error[1024];
};
static void keep_event(void *ud, const char *input, accounts_callback_result *res) {
    (void)res;
    struct seen_events *seen = ud;
    if (strstr(input, "\"event\":\"LoginSuccess\"")) snprintf(seen->login, sizeof seen->login, "%s", input);
    if (strstr(input, "\"event\":\"LogoutError\"")) snprintf(seen->logout_error, sizeof seen->logout_error, "%s", input);
}

/* accounts-js behaviour from C: messages, event payload shapes, option units, autologin, except lists. */
static void test_accounts_js_rules(void) {
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(CONFIG, NULL, &s, &err), ACCOUNTS_OK);
    struct seen_events seen = { { 0 }, { 0 } };
    uint64_t listener = 0;
    EXPECT(accounts_server_on(s, "LoginSuccess", keep_event, &seen, &listener, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_on(s, "LogoutError", keep_event, &seen, &listener, &err), ACCOUNTS_OK);
    char *id = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"ann\",\"password\":\"long enough\"}", &id, &err), ACCOUNTS_OK);
    accounts_error *err = NULL;
    CHECK(accounts_server_login_with_service(s, "password", "{\"user\":\"ann\",\"password\":\"wrong password\"}", NULL, &out, &err)
          == ACCOUNTS_INVALID_CREDENTIALS);
    CHECK(err != NULL && strcmp(accounts_error_message(err), "Invalid credentials") == 0);
    accounts_error_free(err);
    char *sessions[3];
    for (int i = 0; i < 3; i++) {
        EXPECT(accounts_server_login_with_service(s, "password", "{\"user\":\"ann\",\"password\":\"long enough\"}",
                                                  "{\"ip\":\"10.0.0.1\"}", &out, &err), ACCOUNTS_OK);
        sessions[i] = json_str(out, "sessionId");
        if (i == 2) {
            char *at = json_str(out, "accessToken");
            EXPECT(accounts_server_logout(s, at, &err), ACCOUNTS_OK);
            err = NULL;
            CHECK(accounts_server_logout(s, at, &err) == ACCOUNTS_INVALID_SESSION);
            CHECK(err != NULL && strcmp(accounts_error_message(err), "Session is no longer valid") == 0);
            accounts_error_free(err);
            free(at);
        }
        accounts_string_free(out);
    }
    /* LoginSuccess: {service, connection, params (no password), user}; LogoutError: the error itself */
    CHECK(strstr(seen.login, "\"service\":\"password\"") && strstr(seen.login, "\"connection\":{\"ip\":\"10.0.0.1\"}")
          && strstr(seen.login, "\"params\":{\"user\":\"ann\"}") && strstr(seen.login, "\"username\":\"ann\"")
          && !strstr(seen.login, "long enough"));
    CHECK(strstr(seen.logout_error, "\"code\":\"InvalidSession\"") != NULL);
    /* revokeAllSessions keeps a list */
    char except[256];
    snprintf(except, sizeof except, "{\"except\":[\"%s\",\"%s\"]}", sessions[0], sessions[1]);
    uint64_t revoked = 99;
    EXPECT(accounts_server_revoke_all_sessions(s, id, except, &revoked, &err), ACCOUNTS_OK);
    CHECK(revoked == 0); /* the third was logged out already */
    snprintf(except, sizeof except, "{\"except\":[\"%s\"]}", sessions[0]);
    EXPECT(accounts_server_revoke_all_sessions(s, id, except, &revoked, &err), ACCOUNTS_OK);
    CHECK(revoked == 1);
    for (int i = 0; i < 3; i++) free(sessions[i]);
    accounts_string_free(id);
    accounts_server_free(s);

    /* link-token lifetimes given as numbers are milliseconds; autologin with ambiguous errors is refused */
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\","
                               "\"services\":{\"password\":{\"passwordResetTokenExpiration\":3600000}}}", NULL, &s, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_options(s, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"passwordResetTokenExpiration\":3600000") != NULL);
    accounts_string_free(out);
    accounts_server_free(s);
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"enableAutologin\":true}", NULL, &s, &err),
           ACCOUNTS_INVALID_CONFIG);
    /* errors options: accounts-js's message keys */
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\"," FAST "}", NULL, &s, &err), ACCOUNTS_OK);
    accounts_server_free(s);
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\","
                               "\"services\":{\"password\":{\"errors\":{\"invalidCredentials\":\"Wrong email or password\"}}}}", NULL, &s, &err),
           ACCOUNTS_OK);
    char *uid = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"ann\",\"password\":\"long enough\"}", &uid, &err), ACCOUNTS_OK);
    accounts_string_free(uid);
    uid = NULL;
    accounts_error *wrong = NULL;
    CHECK(accounts_server_login_with_service(s, "password", "{\"user\":\"ann\",\"password\":\"nope nope\"}", NULL, &out, &wrong)
          == ACCOUNTS_INVALID_CREDENTIALS);
    CHECK(wrong != NULL && strcmp(accounts_error_message(wrong), "Wrong email or password") == 0);
    accounts_error_free(wrong);
    accounts_server_free(s);

    /* prepareMail, validateEmail and validatePassword from C */
    struct mailbox mail = { 0, { 0 } };
    accounts_callbacks *cbs = accounts_callbacks_new();
    EXPECT(accounts_callbacks_set(cbs, "prepareMail", custom_mail, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "sendMail", capture_mail, &mail, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "validateEmail", org_only, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_callbacks_set(cbs, "validatePassword", three_plus, NULL, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_new(CONFIG, cbs, &s, &err), ACCOUNTS_OK);
    accounts_callbacks_free(cbs);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"ann\",\"email\":\"ann@example.com\"}", &uid, &err), ACCOUNTS_INVALID_EMAIL);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"ann\",\"email\":\"ann@example.org\",\"password\":\"ab\"}", &uid, &err),
           ACCOUNTS_INVALID_PASSWORD);
    EXPECT(accounts_password_create_user(s, "{\"username\":\"ann\",\"email\":\"ann@example.org\",\"password\":\"abc\"}", &uid, &err), ACCOUNTS_OK);
    accounts_string_free(uid);
    EXPECT(accounts_password_send_reset_password_email(s, "ann@example.org", &err), ACCOUNTS_OK);
    CHECK(mail.count == 1 && strstr(mail.last, "\"subject\":\"custom subject\"") && strstr(mail.last, "\"type\":\"resetPassword\""));
    accounts_server_free(s);
}

/* Reads a PEM file into `out` as the inside of a JSON string (newlines escaped); 0 on failure. */
static int pem_json(const char *path, char *out, size_t size) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF && n + 3 < size) {
        if (c == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = 0;
    fclose(f);
    return n > 0;
}

/* accounts-js's tokenSecret {publicKey, privateKey} with ES256, from C. */
static void test_key_pair(void) {
    static char pub[1024], priv[1024], config[4096];
    CHECK(pem_json("core/tests/keys/ec.pub.pem", pub, sizeof pub));
    CHECK(pem_json("core/tests/keys/ec.pem", priv, sizeof priv));
    snprintf(config, sizeof config,
             "{\"db\":\"sqlite::memory:\",\"tokenSecret\":{\"publicKey\":\"%s\",\"privateKey\":\"%s\"},"
             "\"tokenConfigs\":{\"accessToken\":{\"algorithm\":\"ES256\"}}," FAST "}", pub, priv);
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(config, NULL, &s, &err), ACCOUNTS_OK);
    char *id = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"ann\",\"password\":\"long enough\"}", &id, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_login_with_user(s, id, NULL, &out, &err), ACCOUNTS_OK);
    char *at = json_str(out, "accessToken");
    accounts_string_free(out);
    EXPECT(accounts_server_resume_session(s, at, &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    EXPECT(accounts_server_options(s, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "PRIVATE KEY") == NULL && strstr(out, "[redacted]") != NULL);
    accounts_string_free(out);
    /* the JWKS, and verification elsewhere from it alone */
    char *jwks = NULL;
    EXPECT(accounts_server_jwks(s, &jwks, &err), ACCOUNTS_OK);
    CHECK(strstr(jwks, "\"alg\":\"ES256\"") != NULL && strstr(jwks, "\"kid\":") != NULL);
    static char options[4096];
    snprintf(options, sizeof options, "{\"jwks\":%s}", jwks);
    accounts_string_free(jwks);
    EXPECT(accounts_verify_access_token(at, options, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, id) != NULL);
    accounts_string_free(out);
    EXPECT(accounts_verify_access_token("a.b.c", options, &out, &err), ACCOUNTS_TOKEN_VERIFICATION_FAILED);
    EXPECT(accounts_verify_access_token(at, "{}", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_verify_access_token(at, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    free(at);
    accounts_string_free(id);
    accounts_server_free(s);
}

/* A key ring rotated at run time: the old session refreshes onto the new key; a bad ring changes
   nothing; resealAll after a sealing-secret change. */
static void test_key_ring(void) {
    static char pub[1024], priv[1024], config[8192], keys[8192];
    CHECK(pem_json("core/tests/keys/ed.pub.pem", pub, sizeof pub));
    CHECK(pem_json("core/tests/keys/ed.pem", priv, sizeof priv));
    const char *k1 = "{\"kid\":\"k1\",\"algorithm\":\"HS256\",\"secret\":\"the-first-signing-secret-of-32-bytes-000\"}";
    snprintf(config, sizeof config,
             "{\"db\":\"sqlite::memory:\",\"tokenKeys\":{\"current\":\"k1\",\"keys\":[%s]},"
             "\"sealingSecret\":\"c-test-sealing-secret-0123456789abcdef\"," FAST "}", k1);
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(config, NULL, &s, &err), ACCOUNTS_OK);
    char *id = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"kim\",\"password\":\"long enough\"}", &id, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_login_with_user(s, id, NULL, &out, &err), ACCOUNTS_OK);
    char *at = json_str(out, "accessToken"), *rt = json_str(out, "refreshToken");
    accounts_string_free(out);
    snprintf(keys, sizeof keys,
             "{\"current\":\"k2\",\"keys\":[%s,{\"kid\":\"k2\",\"algorithm\":\"EdDSA\",\"publicKey\":\"%s\",\"privateKey\":\"%s\"}]}",
             k1, pub, priv);
    EXPECT(accounts_server_set_keys(s, keys, &err), ACCOUNTS_OK);
    EXPECT(accounts_server_resume_session(s, at, &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    EXPECT(accounts_server_refresh_tokens(s, at, rt, NULL, &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    EXPECT(accounts_server_jwks(s, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"kid\":\"k2\"") != NULL && strstr(out, "k1") == NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_set_keys(s, "{\"current\":\"nope\",\"keys\":[]}", &err), ACCOUNTS_INVALID_CONFIG);
    EXPECT(accounts_server_set_keys(s, "not json", &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_set_keys(s, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    uint64_t resealed = 99;
    EXPECT(accounts_server_reseal_all(s, &resealed, &err), ACCOUNTS_OK);
    CHECK(resealed == 0);
    EXPECT(accounts_server_reseal_all(s, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    free(at);
    free(rt);
    accounts_string_free(id);
    accounts_server_free(s);
}

/* oauthAuthenticate: a host provider that knows two authorization codes. */
static void github(void *ud, const char *input, accounts_callback_result *res) {
    (void)ud;
    CHECK(strstr(input, "\"provider\":\"github\"") != NULL);
    if (strstr(input, "\"code\":\"alice\""))
        accounts_callback_result_set_json(res, "{\"id\":\"2001\",\"email\":\"alice@example.com\",\"emailVerified\":true}");
    else if (strstr(input, "\"code\":\"new\""))
        accounts_callback_result_set_json(res, "{\"id\":1001,\"profile\":{\"name\":\"New\"}}");
    else
        accounts_callback_result_set_error(res, "InvalidCredentials", "unknown code");
}

/* OAuth logins through a host provider, the linking rule, link/unlink/list (docs/oauth.md). */
static void test_oauth(void) {
    static const char *config = "{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\","
                                "\"services\":{\"password\":{\"hashing\":{\"memoryKib\":256,\"iterations\":1,\"parallelism\":1}},"
                                "\"oauth\":{\"providers\":{\"github\":{\"type\":\"host\"}}}}}";
    accounts_callbacks *cbs = accounts_callbacks_new();
    EXPECT(accounts_callbacks_set(cbs, "oauthAuthenticate", github, NULL, &err), ACCOUNTS_OK);
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(config, cbs, &s, &err), ACCOUNTS_OK);
    accounts_callbacks_free(cbs);
    char *alice = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"alice\",\"password\":\"correct horse\"}", &alice, &err), ACCOUNTS_OK);
    EXPECT(accounts_password_add_email(s, alice, "alice@example.com", false, &err), ACCOUNTS_OK);
    /* Her address is not verified here: the provider's verified address does not open her account. */
    EXPECT(accounts_server_login_with_service(s, "oauth", "{\"provider\":\"github\",\"code\":\"alice\"}", NULL, &out, &err),
           ACCOUNTS_ACCOUNT_LINK_REFUSED);
    /* Logged in with her password, she links it explicitly; then the provider logs her in. */
    EXPECT(accounts_oauth_link_account(s, alice, "github", "{\"code\":\"alice\"}", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"provider\":\"github\"") != NULL && strstr(out, "\"id\":\"2001\"") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_login_with_service(s, "oauth", "{\"provider\":\"github\",\"code\":\"alice\"}", NULL, &out, &err), ACCOUNTS_OK);
    char *user = strstr(out, "\"user\"");
    CHECK(user != NULL && strstr(user, alice) != NULL);
    accounts_string_free(out);
    EXPECT(accounts_oauth_list_linked_accounts(s, alice, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"id\":\"2001\"") != NULL && strstr(out, "\"userId\"") != NULL);
    accounts_string_free(out);
    /* A new identity gets a new account, whose only way in it is. */
    EXPECT(accounts_server_login_with_service(s, "oauth", "{\"provider\":\"github\",\"code\":\"new\"}", NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"New\"") != NULL);
    char *created = json_str(strstr(out, "\"user\""), "id");
    accounts_string_free(out);
    EXPECT(accounts_oauth_unlink_account(s, created, "github", &err), ACCOUNTS_LAST_LOGIN_METHOD);
    EXPECT(accounts_oauth_link_account(s, created, "github", "{\"code\":\"alice\"}", &out, &err), ACCOUNTS_ACCOUNT_ALREADY_LINKED);
    free(created);
    /* alice has a password: the identity may go, once. */
    EXPECT(accounts_oauth_unlink_account(s, alice, "github", &err), ACCOUNTS_OK);
    EXPECT(accounts_oauth_unlink_account(s, alice, "github", &err), ACCOUNTS_LINKED_ACCOUNT_NOT_FOUND);
    EXPECT(accounts_oauth_list_linked_accounts(s, alice, &out, &err), ACCOUNTS_OK);
    CHECK(strcmp(out, "[]") == 0);
    accounts_string_free(out);
    /* The provider's refusal, an unknown provider, bad arguments. */
    EXPECT(accounts_server_login_with_service(s, "oauth", "{\"provider\":\"github\",\"code\":\"forged\"}", NULL, &out, &err),
           ACCOUNTS_INVALID_CREDENTIALS);
    EXPECT(accounts_server_login_with_service(s, "oauth", "{\"provider\":\"gitlab\",\"code\":\"new\"}", NULL, &out, &err),
           ACCOUNTS_PROVIDER_NOT_FOUND);
    EXPECT(accounts_oauth_link_account(s, alice, "github", "{not json", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_oauth_link_account(s, alice, "github", "{}", NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_oauth_unlink_account(s, NULL, "github", &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_oauth_list_linked_accounts(s, "nobody", &out, &err), ACCOUNTS_USER_NOT_FOUND);
    EXPECT(accounts_oauth_list_linked_accounts(NULL, alice, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    accounts_string_free(alice);
    accounts_server_free(s);
}

/* base64url without padding (test helper). */
static void b64url(const unsigned char *in, size_t n, char *out) {
    static const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < n) out[o++] = abc[v >> 6 & 63];
        if (i + 2 < n) out[o++] = abc[v & 63];
    }
    out[o] = 0;
}

/* Passkeys (docs/passkeys.md): a registration with "none" attestation built here (no signature
 * needed: an Ed25519 public key of RFC 8032's first test vector), list/rename/remove, sign-in
 * options, and a forged assertion refused with its code. The signed sign-in ceremony is proven in
 * core (a software authenticator), Python, Node and the browser test. */
static void test_webauthn(void) {
    static const char *config = "{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"ambiguousErrorMessages\":false,"
                                "\"services\":{\"password\":{\"hashing\":{\"memoryKib\":256,\"iterations\":1,\"parallelism\":1}},"
                                "\"webauthn\":{\"rpId\":\"example.com\",\"rpName\":\"Example\",\"origins\":[\"https://example.com\"]}}}";
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(config, NULL, &s, &err), ACCOUNTS_OK);
    char *alice = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"alice\",\"password\":\"correct horse\"}", &alice, &err), ACCOUNTS_OK);
    EXPECT(accounts_webauthn_registration_options(s, alice, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"residentKey\":\"required\"") != NULL && strstr(out, "\"rp\":{") != NULL);
    char *challenge = json_str(out, "challenge");
    accounts_string_free(out);
    CHECK(challenge != NULL);
    /* clientDataJSON and the attestation object of a new Ed25519 credential. */
    char client_data[256], cd64[400], ao64[400], id64[40], response[1400];
    snprintf(client_data, sizeof client_data,
             "{\"type\":\"webauthn.create\",\"challenge\":\"%s\",\"origin\":\"https://example.com\",\"crossOrigin\":false}", challenge);
    free(challenge);
    b64url((const unsigned char *)client_data, strlen(client_data), cd64);
    static const unsigned char rp_hash[32] = {0xa3, 0x79, 0xa6, 0xf6, 0xee, 0xaf, 0xb9, 0xa5, 0x5e, 0x37, 0x8c, 0x11, 0x80, 0x34, 0xe2, 0x75,
                                              0x1e, 0x68, 0x2f, 0xab, 0x9f, 0x2d, 0x30, 0xab, 0x13, 0xd2, 0x12, 0x55, 0x86, 0xce, 0x19, 0x47};
    static const unsigned char ed_pub[32] = {0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
                                             0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
    unsigned char cred_id[16];
    for (int i = 0; i < 16; i++) cred_id[i] = (unsigned char)(0x40 + i);
    unsigned char ao[200];
    size_t n = 0;
    static const unsigned char head[] = {0xa3, 0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e', 0x67, 'a', 't', 't', 'S', 't', 'm', 't', 0xa0,
                                         0x68, 'a', 'u', 't', 'h', 'D', 'a', 't', 'a', 0x58, 113};
    memcpy(ao + n, head, sizeof head), n += sizeof head;
    memcpy(ao + n, rp_hash, 32), n += 32;
    ao[n++] = 0x45; /* UP | UV | AT */
    memset(ao + n, 0, 4 + 16), n += 20; /* counter, aaguid */
    ao[n++] = 0, ao[n++] = 16;
    memcpy(ao + n, cred_id, 16), n += 16;
    static const unsigned char cose[] = {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x58, 0x20};
    memcpy(ao + n, cose, sizeof cose), n += sizeof cose;
    memcpy(ao + n, ed_pub, 32), n += 32;
    b64url(ao, n, ao64);
    b64url(cred_id, 16, id64);
    snprintf(response, sizeof response,
             "{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\",\"clientExtensionResults\":{},"
             "\"response\":{\"clientDataJSON\":\"%s\",\"attestationObject\":\"%s\",\"transports\":[\"usb\"]}}",
             id64, id64, cd64, ao64);
    EXPECT(accounts_webauthn_register(s, alice, response, "{\"name\":\"Key\"}", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"name\":\"Key\"") != NULL && strstr(out, id64) != NULL && strstr(out, "\"transports\":[\"usb\"]") != NULL);
    accounts_string_free(out);
    /* Its challenge is used up. */
    EXPECT(accounts_webauthn_register(s, alice, response, NULL, &out, &err), ACCOUNTS_INVALID_WEB_AUTHN_CHALLENGE);
    EXPECT(accounts_webauthn_list_passkeys(s, alice, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, id64) != NULL && strstr(out, "\"lastUsedAt\":null") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_webauthn_rename_passkey(s, alice, id64, "Yubikey", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"name\":\"Yubikey\"") != NULL);
    accounts_string_free(out);
    /* Sign-in options naming alice list the passkey; a forged assertion is refused. */
    EXPECT(accounts_webauthn_authentication_options(s, "{\"username\":\"alice\"}", "{\"ip\":\"192.0.2.9\"}", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, id64) != NULL);
    char *request_challenge = json_str(out, "challenge");
    accounts_string_free(out);
    snprintf(client_data, sizeof client_data,
             "{\"type\":\"webauthn.get\",\"challenge\":\"%s\",\"origin\":\"https://example.com\",\"crossOrigin\":false}", request_challenge);
    free(request_challenge);
    b64url((const unsigned char *)client_data, strlen(client_data), cd64);
    unsigned char auth_data[37], sig[64];
    memcpy(auth_data, rp_hash, 32);
    auth_data[32] = 0x05;
    memset(auth_data + 33, 0, 3), auth_data[36] = 1;
    memset(sig, 0x11, sizeof sig);
    char ad64[80], sig64[100], handle[200], params[1400];
    b64url(auth_data, sizeof auth_data, ad64);
    b64url(sig, sizeof sig, sig64);
    EXPECT(accounts_webauthn_registration_options(s, alice, &out, &err), ACCOUNTS_OK);
    char *user_entity = strstr(out, "\"user\":{");
    char *user_handle = json_str(user_entity, "id");
    snprintf(handle, sizeof handle, "%s", user_handle);
    free(user_handle);
    CHECK(strstr(out, id64) != NULL); /* excluded from a second registration */
    accounts_string_free(out);
    snprintf(params, sizeof params,
             "{\"response\":{\"id\":\"%s\",\"rawId\":\"%s\",\"type\":\"public-key\",\"clientExtensionResults\":{},"
             "\"response\":{\"clientDataJSON\":\"%s\",\"authenticatorData\":\"%s\",\"signature\":\"%s\",\"userHandle\":\"%s\"}}}",
             id64, id64, cd64, ad64, sig64, handle);
    EXPECT(accounts_server_login_with_service(s, "webauthn", params, NULL, &out, &err), ACCOUNTS_WEB_AUTHN_VERIFICATION_FAILED);
    EXPECT(accounts_server_login_with_service(s, "webauthn", "{\"response\":{}}", NULL, &out, &err), ACCOUNTS_WEB_AUTHN_VERIFICATION_FAILED);
    /* Management and arguments. */
    EXPECT(accounts_webauthn_remove_passkey(s, alice, "nope", &err), ACCOUNTS_PASSKEY_NOT_FOUND);
    EXPECT(accounts_webauthn_remove_passkey(s, alice, id64, &err), ACCOUNTS_OK);
    EXPECT(accounts_webauthn_rename_passkey(s, alice, id64, "x", &out, &err), ACCOUNTS_PASSKEY_NOT_FOUND);
    EXPECT(accounts_webauthn_list_passkeys(s, alice, &out, &err), ACCOUNTS_OK);
    CHECK(strcmp(out, "[]") == 0);
    accounts_string_free(out);
    EXPECT(accounts_webauthn_authentication_options(s, "{\"username\":\"ghost\"}", NULL, &out, &err), ACCOUNTS_USER_NOT_FOUND);
    EXPECT(accounts_webauthn_authentication_options(s, NULL, NULL, &out, &err), ACCOUNTS_OK);
    accounts_string_free(out);
    EXPECT(accounts_webauthn_register(s, alice, "{not json", NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_webauthn_register(s, alice, "{}", NULL, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_webauthn_list_passkeys(s, "nobody", &out, &err), ACCOUNTS_USER_NOT_FOUND);
    EXPECT(accounts_webauthn_list_passkeys(NULL, alice, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_webauthn_rename_passkey(s, alice, NULL, "x", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    accounts_server_free(s);
    /* Without services.webauthn the service does not exist. */
    EXPECT(accounts_server_new(CONFIG, NULL, &s, &err), ACCOUNTS_OK);
    EXPECT(accounts_webauthn_registration_options(s, alice, &out, &err), ACCOUNTS_SERVICE_NOT_FOUND);
    accounts_string_free(alice);
    accounts_server_free(s);
    /* Origins that do not belong to the rpId are refused at startup. */
    EXPECT(accounts_server_new("{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"services\":{\"webauthn\":"
                               "{\"rpId\":\"example.com\",\"rpName\":\"E\",\"origins\":[\"https://evil.example\"]}}}",
                               NULL, &s, &err),
           ACCOUNTS_INVALID_CONFIG);
}

/* OpenID Connect against the real provider `make test-c` runs beside this binary
 * (tests/oidc/provider.mjs sets ACCOUNTS_TEST_OIDC); its drive.mjs plays the browser. */
static char *drive_browser(const char *drive, const char *url, const char *redirect, const char *tamper) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "node '%s' '%s' '%s' %s", drive, url, redirect, tamper);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    char *line = calloc(1, 4096);
    if (!fgets(line, 4096, p)) line[0] = 0;
    pclose(p);
    return line;
}

/* One authorization as `who` (the provider's login_hint), the browser's part played by drive.mjs
 * (`tamper`: forge the provider's next ID token, "" for none); writes the login parameters
 * {provider, code, state, iss} to `params` (iss: the authorization response's, RFC 9207). */
static void authorize_as(accounts_server *s, const char *drive, const char *redirect, const char *who, const char *tamper,
                         char *params, size_t size) {
    char options[128], *out = NULL;
    snprintf(options, sizeof options, "{\"loginHint\":\"%s\"}", who);
    EXPECT(accounts_oauth_authorization_url(s, "corp", options, "{\"ip\":\"203.0.113.9\"}", &out, &err), ACCOUNTS_OK);
    char *url = json_str(out, "url"), *state = json_str(out, "state");
    accounts_string_free(out);
    CHECK(strstr(url, "code_challenge_method=S256") != NULL);
    char *back = drive_browser(drive, url, redirect, tamper);
    char *code = json_str(back, "code"), *back_state = json_str(back, "state"), *iss = json_str(back, "iss");
    CHECK(code != NULL && back_state != NULL && strcmp(back_state, state) == 0 && iss != NULL);
    snprintf(params, size, "{\"provider\":\"corp\",\"code\":\"%s\",\"state\":\"%s\",\"iss\":\"%s\"}", code ? code : "", state,
             iss ? iss : "");
    free(iss);
    free(url);
    free(state);
    free(back);
    free(code);
    free(back_state);
}

static void test_oidc(void) {
    const char *env = getenv("ACCOUNTS_TEST_OIDC");
    CHECK(env != NULL); /* run through `make test-c`, which starts the provider */
    if (!env) return;
    char *issuer = json_str(env, "issuer"), *client = json_str(env, "clientId"), *secret = json_str(env, "clientSecret");
    char *redirect = json_str(env, "redirectUri"), *drive = json_str(env, "drive");
    char config[2048];
    snprintf(config, sizeof config,
             "{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"services\":{\"oauth\":{\"providers\":{\"corp\":"
             "{\"type\":\"oidc\",\"issuer\":\"%s\",\"clientId\":\"%s\",\"clientSecret\":\"%s\",\"redirectUri\":\"%s\",\"storeTokens\":true}}}}}",
             issuer, client, secret, redirect);
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(config, NULL, &s, &err), ACCOUNTS_OK);
    char *out = NULL;
    char params[1024];
    authorize_as(s, drive, redirect, "bob", "", params, sizeof params);
    EXPECT(accounts_server_login_with_service(s, "oauth", params, NULL, &out, &err), ACCOUNTS_OK);
    CHECK(out != NULL && strstr(out, "\"address\":\"bob@example.com\",\"verified\":true") != NULL);
    char *bob = json_str(strstr(out, "\"user\""), "id");
    accounts_string_free(out);
    /* storeTokens: the provider's access token comes back (kept sealed). */
    EXPECT(accounts_oauth_provider_tokens(s, bob, "corp", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"accessToken\":\"") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_oauth_provider_tokens(s, bob, "github", &out, &err), ACCOUNTS_LINKED_ACCOUNT_NOT_FOUND);
    EXPECT(accounts_oauth_provider_tokens(s, bob, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    free(bob);
    /* The state was used up; a state never issued, or none, is refused the same way. */
    EXPECT(accounts_server_login_with_service(s, "oauth", params, NULL, &out, &err), ACCOUNTS_INVALID_AUTHORIZATION_STATE);
    EXPECT(accounts_server_login_with_service(s, "oauth", "{\"provider\":\"corp\",\"code\":\"c\",\"state\":\"0000\"}", NULL, &out, &err),
           ACCOUNTS_INVALID_AUTHORIZATION_STATE);
    EXPECT(accounts_server_login_with_service(s, "oauth", "{\"provider\":\"corp\",\"code\":\"c\"}", NULL, &out, &err),
           ACCOUNTS_INVALID_AUTHORIZATION_STATE);
    /* mallory registered alice's address at the provider without verifying it: alice's account
     * (verified here) stays hers, and mallory's own new account does not get the address. */
    char *alice = NULL;
    EXPECT(accounts_password_create_user(s, "{\"username\":\"alice\",\"password\":\"correct horse\"}", &alice, &err), ACCOUNTS_OK);
    EXPECT(accounts_password_add_email(s, alice, "alice@example.com", true, &err), ACCOUNTS_OK);
    authorize_as(s, drive, redirect, "mallory", "", params, sizeof params);
    EXPECT(accounts_server_login_with_service(s, "oauth", params, NULL, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, alice) == NULL && strstr(out, "\"emails\":[]") != NULL);
    accounts_string_free(out);
    out = NULL;
    accounts_string_free(alice);
    /* RFC 9207: a response naming another issuer is a mix-up (the code is sent nowhere); this
     * provider promises iss, so a response without it is refused too. */
    authorize_as(s, drive, redirect, "bob", "", params, sizeof params);
    char mixed[1200];
    snprintf(mixed, sizeof mixed, "%.*s\"iss\":\"https://evil.example\"}", (int)(strstr(params, "\"iss\"") - params), params);
    EXPECT(accounts_server_login_with_service(s, "oauth", mixed, NULL, &out, &err), ACCOUNTS_INVALID_AUTHORIZATION_STATE);
    authorize_as(s, drive, redirect, "bob", "", params, sizeof params);
    char without[1200];
    snprintf(without, sizeof without, "%.*s}", (int)(strstr(params, ",\"iss\"") - params), params);
    EXPECT(accounts_server_login_with_service(s, "oauth", without, NULL, &out, &err), ACCOUNTS_INVALID_AUTHORIZATION_STATE);
    /* A missing code is an argument error; unknown options are refused. */
    EXPECT(accounts_oauth_authorization_url(s, "corp", NULL, NULL, &out, &err), ACCOUNTS_OK);
    char *fresh = json_str(out, "state");
    accounts_string_free(out);
    snprintf(mixed, sizeof mixed, "{\"provider\":\"corp\",\"state\":\"%s\"}", fresh);
    EXPECT(accounts_server_login_with_service(s, "oauth", mixed, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    free(fresh);
    EXPECT(accounts_oauth_authorization_url(s, "corp", "{\"login_hint\":\"bob\"}", NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_oauth_authorization_url(s, "corp", "{\"foo\":1}", NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    /* checkProviders: this provider's discovery is fine; an issuer with a typo fails at startup. */
    EXPECT(accounts_oauth_check_providers(s, &err), ACCOUNTS_OK);
    EXPECT(accounts_oauth_check_providers(NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    snprintf(config, sizeof config,
             "{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\",\"services\":{\"oauth\":{\"providers\":{\"typo\":"
             "{\"type\":\"oidc\",\"issuer\":\"%s/typo\",\"clientId\":\"%s\",\"redirectUri\":\"%s\"}}}}}",
             issuer, client, redirect);
    accounts_server *typo = NULL;
    EXPECT(accounts_server_new(config, NULL, &typo, &err), ACCOUNTS_OK);
    accounts_error *why = NULL;
    EXPECT(accounts_oauth_check_providers(typo, &why), ACCOUNTS_PROVIDER_ERROR);
    const char *details = why ? accounts_error_details_json(why) : NULL;
    CHECK(details != NULL && strstr(details, "\"provider\":\"typo\"") != NULL);
    accounts_error_free(why);
    accounts_server_free(typo);
    /* A host provider has no authorization URL of ours; bad options; unknown provider. */
    EXPECT(accounts_oauth_authorization_url(s, "corp", "{\"loginHint\":1}", NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_oauth_authorization_url(s, "nope", NULL, NULL, &out, &err), ACCOUNTS_PROVIDER_NOT_FOUND);
    EXPECT(accounts_oauth_authorization_url(s, "corp", NULL, NULL, NULL, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_oauth_authorization_url(s, "corp", NULL, "{\"ip\":7}", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    /* Forged ID tokens (tests/oidc/provider.mjs re-signs the genuine one): "resigned" is the control
     * that must pass, the others must not. */
    const char *modes[] = {"resigned", "nonce", "audience", "expired", "alg"};
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        authorize_as(s, drive, redirect, "alice", modes[i], params, sizeof params);
        accounts_result want = i == 0 ? ACCOUNTS_OK : ACCOUNTS_INVALID_ID_TOKEN;
        EXPECT(accounts_server_login_with_service(s, "oauth", params, NULL, &out, &err), want);
        if (i == 0) accounts_string_free(out);
    }
    free(issuer);
    free(client);
    free(secret);
    free(redirect);
    free(drive);
    accounts_server_free(s);
}

/* The web edge: the REST API as JSON requests and responses, cookie mode and the CSRF rules. */
static char *cookie_value(const char *response, const char *name) {
    const char *p = strstr(response, name);
    if (!p) return NULL;
    p += strlen(name);
    const char *end = strchr(p, ';');
    char *out = malloc((size_t)(end - p) + 1);
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = 0;
    return out;
}

static void test_web(void) {
    static const char *config = "{\"db\":\"sqlite::memory:\",\"tokenSecret\":\"" SECRET "\"," FAST ","
                                "\"siteUrl\":\"https://app.example\",\"web\":{\"cookies\":true}}";
    accounts_server *s = NULL;
    EXPECT(accounts_server_new(config, NULL, &s, &err), ACCOUNTS_OK);
    char *id = NULL, *out = NULL;
    EXPECT(accounts_password_create_user(s, "{\"email\":\"alice@example.com\",\"password\":\"correct horse\"}", &id, &err), ACCOUNTS_OK);
    const char *login = "{\"method\":\"POST\",\"path\":\"/password/authenticate\",\"peer\":\"192.0.2.1\","
                        "\"headers\":[[\"content-type\",\"application/json\"],[\"origin\",\"https://app.example\"]],"
                        "\"body\":\"{\\\"user\\\":{\\\"email\\\":\\\"alice@example.com\\\"},\\\"password\\\":\\\"correct horse\\\"}\"}";
    EXPECT(accounts_server_handle_http(s, login, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"status\":200") != NULL);
    CHECK(strstr(out, "accessToken") == NULL); /* the tokens are in cookies, not in the body */
    char *access = cookie_value(out, "__Host-accounts_access=");
    char *csrf = cookie_value(out, "__Host-accounts_csrf=");
    CHECK(access != NULL && csrf != NULL && strstr(out, "HttpOnly") != NULL);
    accounts_string_free(out);
    char request[4096];
    snprintf(request, sizeof request, "{\"method\":\"GET\",\"path\":\"/api/me\",\"headers\":[[\"cookie\",\"__Host-accounts_access=%s\"]]}", access);
    EXPECT(accounts_server_http_user(s, request, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, id) != NULL && strstr(out, access) != NULL);
    accounts_string_free(out);
    /* A state-changing request on the cookie needs the session's CSRF token. */
    snprintf(request, sizeof request, "{\"method\":\"DELETE\",\"path\":\"/api/thing\",\"headers\":[[\"cookie\",\"__Host-accounts_access=%s\"]]}", access);
    accounts_error *e = NULL;
    CHECK(accounts_server_http_user(s, request, &out, &e) == ACCOUNTS_CSRF_REFUSED);
    CHECK(e != NULL && strstr(accounts_error_details_json(e), "403") != NULL);
    accounts_error_free(e);
    snprintf(request, sizeof request,
             "{\"method\":\"DELETE\",\"path\":\"/api/thing\",\"headers\":[[\"cookie\",\"__Host-accounts_access=%s\"],[\"x-csrf-token\",\"%s\"]]}", access, csrf);
    EXPECT(accounts_server_http_user(s, request, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, id) != NULL);
    accounts_string_free(out);
    /* No state change on GET; bad input is a coded 4xx response, a bad request document an error. */
    EXPECT(accounts_server_handle_http(s, "{\"method\":\"GET\",\"path\":\"/logout\",\"headers\":[]}", &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"status\":405") != NULL && strstr(out, "MethodNotAllowed") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_handle_http(s, "{\"method\":\"GET\",\"path\":\"/user\",\"headers\":[[\"cookie\",\"__Host-accounts_csrf=50%\"]]}", &out, &err),
           ACCOUNTS_OK);
    /* A malformed cookie of ours counts as absent: no user, no lock-out. */
    CHECK(strstr(out, "\"status\":200") != NULL && strstr(out, "\"body\":\"null\"") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_handle_http(s, "{\"method\":\"GET\",\"path\":\"/user\",\"headers\":[[\"x-note\",\"a\\u007fb\"]]}", &out, &err),
           ACCOUNTS_OK);
    CHECK(strstr(out, "\"status\":400") != NULL && strstr(out, "MalformedRequest") != NULL);
    accounts_string_free(out);
    EXPECT(accounts_server_handle_http(s, "{\"method\":\"GET\"}", &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    EXPECT(accounts_server_handle_http(s, NULL, &out, &err), ACCOUNTS_INVALID_ARGUMENT);
    /* Logout clears the cookies. */
    snprintf(request, sizeof request,
             "{\"method\":\"POST\",\"path\":\"/logout\",\"headers\":[[\"cookie\",\"__Host-accounts_access=%s\"],[\"x-csrf-token\",\"%s\"]]}", access, csrf);
    EXPECT(accounts_server_handle_http(s, request, &out, &err), ACCOUNTS_OK);
    CHECK(strstr(out, "\"status\":200") != NULL && strstr(out, "__Host-accounts_access=; Path=/; Max-Age=0") != NULL);
    accounts_string_free(out);
    free(access);
    free(csrf);
    accounts_string_free(id);
    accounts_server_free(s);
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    test_basics();
    test_flows();
    test_account_flows();
    test_callback_errors();
    test_refresh_reuse_details();
    test_security();
    test_signup_rules();
    test_import();
    test_accounts_js_rules();
    test_key_pair();
    test_key_ring();
    test_oauth();
    test_webauthn();
    test_oidc();
    test_web();
    test_threads(dir);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
