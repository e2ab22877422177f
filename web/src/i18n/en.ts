import type zh from './zh-CN'
import adminEn from './admin-en'

const en: typeof zh = {
  app: { name: 'inkstone', tagline: 'AI writing studio' },
  nav: {
    writing: 'Write', image: 'Images', history: 'History', recharge: 'Top up', membership: 'Membership',
    orders: 'Orders', transactions: 'Transactions', login: 'Log in', register: 'Sign up', logout: 'Log out', admin: 'Admin', menu: 'Menu',
  },
  header: {
    credits: '{n} credits', member: 'Member', memberUntil: 'Member until {date}', expiring: 'Membership ends in {days} days',
    expiringToday: 'Membership ends today', expired: 'Membership expired', notMember: 'Free plan', language: '中文',
  },
  common: {
    loading: 'Loading…', retry: 'Retry', cancel: 'Cancel', close: 'Close', confirm: 'OK', copy: 'Copy',
    copied: 'Copied', copyFailed: 'Could not copy; please select the text by hand', empty: 'Nothing here yet', prev: 'Previous', next: 'Next',
    total: '{n} in all', credits: 'credits', creditsN: '{n} credits', free: 'Free for members', time: 'Time', timeZone: 'China time',
  },
  errors: {
    NETWORK: 'Cannot reach the server. Check your connection and try again.',
    UNAVAILABLE: 'The service is unavailable for a moment. Please try again soon.',
    UPSTREAM_ERROR: 'The AI service failed.',
    UPSTREAM_BUSY: 'The AI service is busy.',
    UPSTREAM_TIMEOUT: 'The AI service took too long to answer.',
    CONTENT_REJECTED: 'The content did not pass moderation. Please change it and try again.',
    RATE_LIMITED: 'Too many requests. Try again in {s} seconds.',
    UNAUTHORIZED: 'Your session has ended. Please log in again.',
    generic: 'Something went wrong: {detail}',
    unknown: 'Something went wrong ({code})',
  },
  auth: {
    loginTitle: 'Log in to inkstone', registerTitle: 'Create your inkstone account', username: 'Username', password: 'Password',
    email: 'Email (optional)', login: 'Log in', register: 'Sign up', toRegister: 'No account yet? Sign up',
    toLogin: 'Have an account? Log in', usernameHint: '3–32 letters, digits or underscores', passwordHint: '8–128 characters',
    tooMany: 'Too many failed logins. Try again in {time}.', minutes: '{m} min {s} s', seconds: '{s} s',
    required: '{field} is required', welcome: 'Welcome, {name}',
  },
  writing: {
    title: 'AI writing', tools: 'Writing tools', model: 'Model', cost: '{n} credits per run', costFree: 'Free for members (normally {n} credits)',
    prompt: 'What would you like to write?', promptPlaceholder: 'e.g. An essay about autumn, about 500 words', generate: 'Generate',
    stop: 'Stop', output: 'Result', streaming: 'Writing…', done: 'Done: {tokens} tokens, {charged} credits charged, balance {balance}',
    doneFree: 'Done: {tokens} tokens, free for members', stopping: 'Stopping…',
    stoppedCharged: 'Stopped. The text so far is kept; {charged} credits charged, balance {balance}.', stoppedFree: 'Stopped. The text so far is kept (free for members).',
    stoppedRefunded: 'Stopped before any text was written; your credits were refunded, balance {balance} credits.', resumed: 'Reconnected to the generation in progress…', reconnect: 'Reconnect',
    exportMd: 'Export .md', exportTxt: 'Export .txt', nothing: 'The result will appear here.',
    refunded: 'Your credits were refunded; balance {balance} credits.', failed: 'Generation failed', lengthCut: 'The text reached the length limit and was cut.',
    insufficientTitle: 'Not enough credits', insufficientBody: 'This run needs {required} credits; your balance is {balance}.',
    toRecharge: 'Top up', toMembership: 'Become a member: generate for free', rateLimited: 'Too many generations. Try again in {s} seconds.',
    interrupted: 'The connection broke, but the generation goes on on the server: reconnect, or find it in History later.', chars: '{n} / 8000',
  },
  image: {
    title: 'AI images', prompt: 'Describe the picture', promptPlaceholder: 'e.g. An ink-wash water town in light rain', size: 'Size', count: 'Count',
    generate: 'Generate images', cost: '{n} credits per task (any count)', pending: 'Queued…', running: 'Drawing…',
    succeeded: 'Done', failed: 'The task failed; {credits} credits were refunded.', failedNoCharge: 'The task failed.', gallery: 'Images',
    open: 'Open full size', nothing: 'Your images will appear here.',
  },
  history: {
    title: 'History', open: 'Read in full', again: 'Run again', prompt: 'Prompt', content: 'Output', status: 'Status',
    refunded: 'Refunded', charged: '{n} credits', free: 'Free', image: 'Image generation', tokens: '{n} tokens',
    statuses: { RUNNING: 'Running', SUCCEEDED: 'Succeeded', FAILED: 'Failed', ABORTED: 'Aborted' },
    endReason: 'How it ended', started: 'Started', finished: 'Ended', credits: 'Credits', continue: 'Continue reading', detail: 'Details',
    endReasons: {
      running: 'Still being written', completed: 'Completed', upstream_error: 'The AI service failed', task_failed: 'The image task failed',
      cancelled: 'Stopped by you', worker_lost: 'Interrupted on our side', unknown: 'Unknown',
    },
  },
  recharge: {
    title: 'Top up credits', packages: 'Choose a package', bonus: '+{n} bonus', custom: 'Custom amount', customUnit: 'yuan',
    customHint: 'Whole yuan, ¥1–¥50,000, 10 credits per yuan', customCredits: 'You get {n} credits', customInvalid: 'Enter a whole number from 1 to 50000',
    method: 'Pay with', alipay: 'Alipay', wechat: 'WeChat Pay', pay: 'Pay {amount}', rate: '¥1 = 10 credits',
    youGet: '{n} credits',
  },
  pay: {
    title: 'Pay for your order', order: 'Order', amount: 'Amount', method: 'Method', mockTitle: 'Simulated payment (test mode)',
    mockBody: 'Payments are simulated on this server: no money moves. Press the button to simulate a successful payment.', mockPay: 'Simulate payment',
    wechatScan: 'Scan the QR code with WeChat to pay', alipayRedirect: 'Taking you to Alipay…', alipayGo: 'Pay with Alipay',
    waiting: 'Waiting for the payment…', paid: 'Payment received!', paidCredits: '{n} credits added; your balance is {balance}.',
    paidMember: 'Membership active until {date}.', expired: 'The order has expired. Please place a new one.', expiresAt: 'Please pay before {time}',
  },
  membership: {
    title: 'Membership', current: 'Your membership runs until {date}', none: 'You are not a member yet.', expiredAt: 'Your membership ended on {date}',
    perMonth: '{price} per month', months: '{n} month | {n} months', after: 'After buying: until {date}', buy: 'Buy for {price}',
    benefits: 'While you are a member every AI generation is free (fair-use limits apply).', plans: { monthly: 'Monthly', quarterly: 'Quarterly', yearly: 'Yearly' },
  },
  orders: {
    title: 'My orders', recharge: 'Top-up orders', membership: 'Membership orders', orderNo: 'Order', item: 'Item', amount: 'Amount',
    method: 'Method', status: 'Status', created: 'Placed', payNow: 'Pay now', creditsItem: '{credits} credits + {bonus} bonus',
    planItem: '{name} ({months} months)', statuses: { PENDING: 'Awaiting payment', PAID: 'Paid', EXPIRED: 'Expired' },
  },
  transactions: {
    title: 'Credit transactions', type: 'Type', all: 'All types', amount: 'Change', balanceAfter: 'Balance', description: 'Description',
    related: 'Related', order: 'Order {no}', generation: 'Generation #{id}',
    types: { RECHARGE: 'Top-up', BONUS: 'Bonus', CONSUME: 'Spent', REFUND: 'Refund', ADMIN_ADJUST: 'Adjustment', REDEEM: 'Code redeemed', ORDER_REFUND: 'Order refund' },
  },
  redeem: {
    title: 'Redeem a code', placeholder: 'XXXX-XXXX-XXXX-XXXX', submit: 'Redeem', hint: 'Enter a code for credits or membership; any case, dashes optional.', empty: 'Enter a code',
    gotCredits: 'Redeemed: {n} credits added; your balance is {balance}', gotDays: 'Redeemed: membership extended by {n} days, until {date}',
    errors: { CODE_NOT_FOUND: 'There is no such code. Please check it and try again.', CODE_USED: 'This code has been used already.', CODE_EXPIRED: 'This code has expired or was disabled.', TOO_MANY_ATTEMPTS: 'Too many attempts. Try again in {s} seconds.' },
  },
  admin: adminEn,
  notFound: { title: 'Page not found', back: 'Back to the start' },
}
export default en
