//! C ABI (see include/accounts.h).
