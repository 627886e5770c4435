import accounts from './index.js'
export const { AccountsServer, PasswordService, AccountsError, isAccountsError, ErrorCodes, version } = accounts
export default accounts
