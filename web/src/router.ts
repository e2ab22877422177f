import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { getToken } from './api/session'

const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/writing' },
  { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { guest: true } },
  { path: '/register', name: 'register', component: () => import('./pages/RegisterPage.vue'), meta: { guest: true } },
  { path: '/writing', name: 'writing', component: () => import('./pages/WritingPage.vue'), meta: { auth: true } },
  { path: '/image', name: 'image', component: () => import('./pages/ImagePage.vue'), meta: { auth: true } },
  { path: '/history', name: 'history', component: () => import('./pages/HistoryPage.vue'), meta: { auth: true } },
  { path: '/recharge', name: 'recharge', component: () => import('./pages/RechargePage.vue'), meta: { auth: true } },
  { path: '/membership', name: 'membership', component: () => import('./pages/MembershipPage.vue'), meta: { auth: true } },
  { path: '/orders', name: 'orders', component: () => import('./pages/OrdersPage.vue'), meta: { auth: true } },
  { path: '/transactions', name: 'transactions', component: () => import('./pages/TransactionsPage.vue'), meta: { auth: true } },
  // The admin section (README "Web app"): one lazy chunk per page, so a creator never downloads
  // them or the chart library; AdminShell shows the 403 page to a signed-in non-admin.
  {
    path: '/admin',
    component: () => import('./pages/admin/AdminShell.vue'),
    meta: { auth: true, admin: true },
    children: [
      { path: '', redirect: '/admin/dashboard' },
      { path: 'dashboard', name: 'admin-dashboard', component: () => import('./pages/admin/DashboardPage.vue') },
      { path: 'users', name: 'admin-users', component: () => import('./pages/admin/UsersPage.vue') },
      { path: 'users/:id(\\d+)', name: 'admin-user', component: () => import('./pages/admin/UserDetailPage.vue'), props: true },
      { path: 'orders', name: 'admin-orders', component: () => import('./pages/admin/OrdersPage.vue') },
      { path: 'orders/:orderNo', name: 'admin-order', component: () => import('./pages/admin/OrderDetailPage.vue'), props: true },
      { path: 'prices', name: 'admin-prices', component: () => import('./pages/admin/PricesPage.vue') },
      { path: 'tools', name: 'admin-tools', component: () => import('./pages/admin/ToolsPage.vue') },
      { path: 'codes', name: 'admin-codes', component: () => import('./pages/admin/CodesPage.vue') },
      { path: 'audit', name: 'admin-audit', component: () => import('./pages/admin/AuditPage.vue') },
    ],
  },
  { path: '/:rest(.*)*', name: 'not-found', component: () => import('./pages/NotFoundPage.vue') },
]

/** Only a path inside this app may be a redirect target (no `//evil.example`, no scheme). */
export function safeRedirect(target: unknown): string {
  if (typeof target !== 'string') return '/writing'
  if (!target.startsWith('/') || target.startsWith('//') || target.startsWith('/\\')) return '/writing'
  if (target.startsWith('/login') || target.startsWith('/register')) return '/writing'
  return target
}

export const router = createRouter({
  history: createWebHistory(),
  routes,
  scrollBehavior: () => ({ top: 0 }),
})

router.beforeEach((to) => {
  const signedIn = getToken() !== null
  if (to.meta.auth && !signedIn) return { name: 'login', query: { redirect: to.fullPath } }
  if (to.meta.guest && signedIn) return safeRedirect(to.query.redirect)
  return true
})
