import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, onUnauthorized } from '../api'
import { getToken, setToken } from '../api/session'
import { forgetGeneration } from '../lib/resume'
import type { AuthReply, User } from '../api/types'

export const useAuth = defineStore('auth', () => {
  const token = ref<string | null>(getToken())
  const user = ref<User | null>(null)
  const signedIn = computed(() => token.value !== null)

  function accept(reply: AuthReply): void {
    setToken(reply.access_token)
    token.value = reply.access_token
    user.value = reply.user
  }

  /** Forget the token locally (after logout, or when the API says it is no longer valid). */
  function forget(): void {
    setToken(null)
    forgetGeneration()  // the next account in this tab does not reattach to it
    token.value = null
    user.value = null
  }

  async function login(username: string, password: string): Promise<void> {
    accept(await api.login(username, password))
  }

  async function register(username: string, password: string, email?: string): Promise<void> {
    accept(await api.register(username, password, email))
  }

  async function logout(): Promise<void> {
    try {
      if (token.value) await api.logout()
    } finally {
      forget()
    }
  }

  async function loadMe(): Promise<void> {
    if (!token.value) return
    user.value = await api.me()
  }

  return { token, user, signedIn, accept, forget, login, register, logout, loadMe }
})

/** Wires the API client's 401 handling to the store; `onExpired` navigates to login. */
export function installUnauthorizedHandler(onExpired: () => void): void {
  onUnauthorized(() => {
    useAuth().forget()
    onExpired()
  })
}
