import type adminZh from './admin-zh-CN'

const adminEn: typeof adminZh = {
  nav: { dashboard: 'Dashboard', users: 'Users', orders: 'Orders', prices: 'Prices', tools: 'Writing tools', codes: 'Codes', audit: 'Audit log', back: 'Back to writing' },
  forbidden: { title: 'No access', body: 'The admin console is for administrators only.', back: 'Back to writing' },
  common: { search: 'Search', refresh: 'Refresh', actions: 'Actions' },
  reason: { label: 'Reason', placeholder: 'Why are you doing this? (kept in the audit log)', required: 'A reason is required', tooLong: 'At most {n} characters' },
  dash: {
    title: 'Dashboard', generatedAt: 'As of {time}', revenue: 'Revenue', paidOrders: 'Paid orders', newUsers: 'New users', activeUsers: 'Active users',
    today: 'Today', d7: '7 days', d30: '30 days', chartRevenue: 'Revenue, last 30 days', chartOrdersUsers: 'Orders and new users, last 30 days',
    chartGenerations: 'Generations, last 30 days', chartCredits: 'Credits consumed, last 30 days', generations: 'Generations', creditsConsumed: 'Credits consumed',
    byProvider: 'By payment provider', provider: 'Provider', credits30: 'Credits, last 30 days', generations30: 'Generations, last 30 days', model: 'Model', count: 'Count',
    credits: 'Credits', other30: 'Other, last 30 days', refunds: 'Refunds', refundsValue: '{n} · {amount} · {credits} credits',
    notifyFailures: 'Failed notifies', notifyValue: '1 day {d1} · 7 days {d7}', planSales: 'Membership {plan}',
    issued: { recharge: 'Issued by top-ups', bonus: 'Issued as bonus', admin: 'Admin adjustments', redeem: 'Issued by codes', refund: 'Refunded' },
  },
  users: {
    title: 'Users', search: 'Id, or username / email prefix', username: 'Username', email: 'Email', credits: 'Credits', membership: 'Member until',
    created: 'Joined', disabled: 'Disabled',
  },
  user: {
    notFound: 'No such user', memberUntil: 'Until {date}', memberEnded: 'Ended {date}', notMember: 'Not a member',
    disabledAt: 'Disabled at {time}', adjust: 'Adjust credits', grant: 'Grant membership', disable: 'Disable account', enable: 'Enable account',
    ledger: 'Ledger', orders: 'Orders', generations: 'Generations', grants: 'Membership history',
    amount: 'Credits (positive adds, negative takes)', amountHint: 'e.g. 100 or -20', amountInvalid: 'Enter a whole number other than 0',
    after: 'Balance afterwards: {n}', wouldOverdraw: 'That would take the balance below 0; nothing was changed.', length: 'Length', unitDays: 'days', unitMonths: 'months',
    lengthInvalid: 'Enter a whole number from 1 to {max}', adjusted: 'Adjusted; the balance is now {balance}', granted: 'Member until {date}',
    disabledDone: 'Account disabled; every session has ended', enabledDone: 'Account enabled',
    disableBody: 'Every session of this person ends at once; they cannot log in or start generations. A running generation finishes.',
    enableBody: 'The person can log in again.',
  },
  grants: { source: 'Source', length: 'Length', before: 'Until before', after: 'Until after', order: 'Order', months: '{n} months', days: '{n} days' },
  orders: {
    title: 'Orders', userId: 'User id', user: 'User', kind: 'Kind', kinds: { recharge: 'Top-up', membership: 'Membership' },
    from: 'From', to: 'To', refund: 'Refund', planItem: '{plan} ({months} months)',
  },
  order: {
    notFound: 'No such order', tradeNo: 'Provider trade no.', paidAt: 'Paid', expiresAt: 'Expires', refund: 'Refund', reconcile: 'Reconcile now',
    refundTitle: 'Refund', refundNo: 'Refund no.', creditsBack: 'Credits taken back', providerRefund: 'Provider refund id', failure: 'Failure',
    ledger: 'Linked ledger rows', notifies: 'Payment notifies', notifyKind: 'Kind', outcome: 'Outcome', detail: 'Detail',
    partial: 'Partial refund (name the amount)', amountInvalid: 'More than 0 and at most {max}', preview: 'Refunds {amount} and takes back {credits} credits.',
    membershipRule: 'A membership order shortens the membership by its unused share.', reconcileBody: 'Ask the payment provider about this order, as the expiry job does.',
    refunded: 'Refund {status}; the balance is {balance}', errInsufficient: 'The balance does not cover the credits of this order.',
    errAlready: 'This order was refunded already.', errMembership: 'This membership order cannot be refunded.',
    outcomes: { settled: 'Payment confirmed; the order is settled', still_pending: 'The provider says it is still unpaid', expired: 'The order expired and was closed', unchanged: 'Nothing changed' },
  },
  prices: {
    title: 'Prices and packages', hint: 'A change applies to new orders and generations at once; orders already placed keep their price.', packages: 'Top-up packages', plans: 'Membership plans', models: 'Model prices',
    add: 'Add', new: 'new', credits: 'Credits', bonus: 'Bonus', priceFen: 'Price (fen)', active: 'Active', order: 'Order', save: 'Save',
    plan: 'Code', name: 'Name', months: 'Months', kind: 'Kind', source: 'Source', sources: { table: 'Database', config: 'Config default' },
    saved: 'Saved', confirmTitle: 'Save the price change', confirmBody: 'The new price applies to the next orders and generations.',
  },
  tools: {
    title: 'Writing tools', add: 'Add a tool', inactive: 'inactive', type: 'Type code', description: 'Description', system: 'System prompt',
    template: 'User template (must contain {prompt})', templateNeedsPrompt: 'The template must contain {prompt}', preview: 'Final prompt preview',
    samplePrompt: 'Sample input', render: 'Preview', pick: 'Pick a tool to edit it, or add one.', confirmTitle: 'Save the writing tool',
  },
  codes: {
    title: 'Redemption codes', create: 'Create codes', count: 'How many (1–10000)', worth: 'Worth', credits: 'Credits', days: 'Membership days',
    expires: 'Valid until', note: 'Note', createBtn: 'Create {n}', createdN: '{n} codes created', more: '{n} more: export the CSV',
    batches: 'Batches', used: 'Used', createdBy: 'Created', disabled: 'Disabled', live: 'Live', export: 'Export CSV', disable: 'Disable batch',
    disabledDone: 'Batch disabled', disableBody: 'Disable batch #{id}: none of its unused codes can be redeemed any more.', createBody: 'Create {n} codes worth {worth} each.',
  },
  audit: {
    title: 'Audit log', action: 'Action', actor: 'Actor', targetType: 'Target type', targetId: 'Target id', target: 'Target', change: 'Change',
    before: 'before', after: 'after', request: 'Request id', appendOnly: 'The log is append-only',
  },
}
export default adminEn
