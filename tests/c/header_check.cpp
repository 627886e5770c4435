// The header must compile as C++ (extern "C" guard) with warnings as errors.
#include "accounts.h"
#include <cstdio>

int main() {
    accounts_server *server = nullptr;
    accounts_error *error = nullptr;
    accounts_result r = accounts_server_new(nullptr, nullptr, &server, &error);
    std::printf("%s %s\n", accounts_version(), accounts_result_name(r));
    accounts_error_free(error);
    return r == ACCOUNTS_INVALID_ARGUMENT ? 0 : 1;
}
