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
