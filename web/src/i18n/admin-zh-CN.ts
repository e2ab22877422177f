// The admin console's words (pages/admin), kept apart from the creator's pages.
const adminZh = {
  nav: { dashboard: '概览', users: '用户', orders: '订单', prices: '价格', tools: '写作工具', codes: '兑换码', audit: '审计日志', back: '返回创作' },
  forbidden: { title: '没有权限', body: '管理后台只对管理员开放。', back: '返回创作' },
  common: { search: '搜索', refresh: '刷新', actions: '操作' },
  reason: { label: '原因', placeholder: '写下这次操作的原因（记入审计日志）', required: '必须填写原因', tooLong: '原因最多 {n} 个字' },
  dash: {
    title: '运营概览', generatedAt: '统计于 {time}', revenue: '收入', paidOrders: '支付订单', newUsers: '新用户', activeUsers: '活跃用户',
    today: '今日', d7: '7 天', d30: '30 天', chartRevenue: '近 30 天收入', chartOrdersUsers: '近 30 天订单与新用户',
    chartGenerations: '近 30 天生成次数', chartCredits: '近 30 天积分消耗', generations: '生成', creditsConsumed: '消耗积分',
    byProvider: '按支付渠道', provider: '渠道', credits30: '近 30 天积分', generations30: '近 30 天生成', model: '模型', count: '次数',
    credits: '积分', other30: '近 30 天其他', refunds: '退款', refundsValue: '{n} 笔 · {amount} · {credits} 积分',
    notifyFailures: '回调失败', notifyValue: '1 天 {d1} · 7 天 {d7}', planSales: '会员 {plan}',
    issued: { recharge: '充值发放', bonus: '赠送发放', admin: '人工调整', redeem: '兑换码发放', refund: '退还' },
  },
  users: {
    title: '用户', search: 'ID、用户名或邮箱前缀', username: '用户名', email: '邮箱', credits: '积分', membership: '会员到期',
    created: '注册于', disabled: '已停用',
  },
  user: {
    notFound: '没有这个用户', memberUntil: '有效期至 {date}', memberEnded: '已于 {date} 到期', notMember: '不是会员',
    disabledAt: '停用于 {time}', adjust: '调整积分', grant: '赠送会员', disable: '停用账户', enable: '启用账户',
    ledger: '积分流水', orders: '订单', generations: '生成记录', grants: '会员记录',
    amount: '积分变动（正数增加，负数扣减）', amountHint: '例如 100 或 -20', amountInvalid: '请输入非零整数',
    after: '调整后余额 {n}', wouldOverdraw: '扣减后余额会小于 0，未做任何改动。', length: '时长', unitDays: '天', unitMonths: '个月',
    lengthInvalid: '请输入 1 到 {max} 之间的整数', adjusted: '已调整，当前余额 {balance}', granted: '会员有效期至 {date}',
    disabledDone: '账户已停用，所有登录已失效', enabledDone: '账户已启用',
    disableBody: '停用后该用户的所有登录立即失效，无法再登录或开始新的生成；进行中的生成会正常结束。',
    enableBody: '启用后该用户可以重新登录。',
  },
  grants: { source: '来源', length: '时长', before: '原到期', after: '新到期', order: '关联订单', months: '{n} 个月', days: '{n} 天' },
  orders: {
    title: '订单', userId: '用户 ID', user: '用户', kind: '类型', kinds: { recharge: '充值', membership: '会员' },
    from: '开始日期', to: '结束日期', refund: '退款', planItem: '{plan}（{months} 个月）',
  },
  order: {
    notFound: '没有这个订单', tradeNo: '渠道交易号', paidAt: '支付时间', expiresAt: '过期时间', refund: '退款', reconcile: '立即对账',
    refundTitle: '退款记录', refundNo: '退款单号', creditsBack: '收回积分', providerRefund: '渠道退款号', failure: '失败原因',
    ledger: '关联积分流水', notifies: '支付通知记录', notifyKind: '类型', outcome: '结果', detail: '详情',
    partial: '部分退款（指定金额）', amountInvalid: '金额须大于 0 且不超过 {max}', preview: '退款 {amount}，收回 {credits} 积分。',
    membershipRule: '会员订单按未使用部分缩短会员期。', reconcileBody: '向支付渠道查询这笔订单的状态（与过期任务相同）。',
    refunded: '退款 {status}，用户余额 {balance}', errInsufficient: '用户余额不足以收回这笔订单的积分。',
    errAlready: '这笔订单已经退过款。', errMembership: '这笔会员订单不能退款。',
    outcomes: { settled: '已确认支付，订单已入账', still_pending: '渠道显示仍未支付', expired: '订单已过期关闭', unchanged: '状态没有变化' },
  },
  prices: {
    title: '价格与套餐', hint: '修改立即对新订单和新生成生效，已创建的订单保持原价。', packages: '充值套餐', plans: '会员套餐', models: '模型价格',
    add: '新增', new: '新', credits: '积分', bonus: '赠送', priceFen: '价格（分）', active: '上架', order: '排序', save: '保存',
    plan: '代号', name: '名称', months: '月数', kind: '类型', source: '来源', sources: { table: '数据库', config: '配置默认' },
    saved: '已保存', confirmTitle: '保存价格修改', confirmBody: '新价格对之后的订单和生成立即生效。',
  },
  tools: {
    title: '写作工具', add: '新增工具', inactive: '未上架', type: '类型代号', description: '说明', system: '系统提示词',
    template: '用户模板（必须包含 {prompt}）', templateNeedsPrompt: '模板必须包含 {prompt}', preview: '最终提示词预览',
    samplePrompt: '示例输入', render: '预览', pick: '选择一个工具进行编辑，或新增一个。', confirmTitle: '保存写作工具',
  },
  codes: {
    title: '兑换码', create: '生成兑换码', count: '数量（1–10000）', worth: '面值', credits: '积分', days: '会员天数',
    expires: '有效期至', note: '备注', createBtn: '生成 {n} 个', createdN: '已生成 {n} 个兑换码', more: '另有 {n} 个，请导出 CSV',
    batches: '批次', used: '已用', createdBy: '创建', disabled: '已停用', live: '可用', export: '导出 CSV', disable: '停用批次',
    disabledDone: '批次已停用', disableBody: '停用批次 #{id}：其中未使用的兑换码都将无法兑换。', createBody: '生成 {n} 个兑换码，每个 {worth}。',
  },
  audit: {
    title: '审计日志', action: '操作', actor: '操作者', targetType: '对象类型', targetId: '对象 ID', target: '对象', change: '变更',
    before: '前', after: '后', request: '请求 ID', appendOnly: '日志只增不删',
  },
}
export default adminZh
