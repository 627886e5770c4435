import accounts from './index.js'
export const {
  AccountsServer,
  verifyAccessToken,
  PasswordService,
  TwoFactor,
  MagicLinkService,
  WebAuthnService,
  AccountsError,
  isAccountsError,
  useAccountsJsError,
  accountsJsErrorLinked,
  ErrorCodes,
  version,
} = accounts
export default accounts
