import accounts from './index.js'
export const {
  AccountsServer,
  PasswordService,
  TwoFactor,
  MagicLinkService,
  AccountsError,
  isAccountsError,
  useAccountsJsError,
  accountsJsErrorLinked,
  ErrorCodes,
  version,
} = accounts
export default accounts
