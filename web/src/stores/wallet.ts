import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api } from '../api'
import type { Balance } from '../api/types'
import { daysUntil } from '../lib/format'

/** Days before expiry from which the badge warns that membership is about to run out. */
export const EXPIRING_DAYS = 7

export type MemberState = 'none' | 'active' | 'expiring' | 'expired'

export function memberState(b: Pick<Balance, 'is_member' | 'member_expired_at'> | null, now = new Date()): MemberState {
  if (!b || !b.member_expired_at) return 'none'
  if (!b.is_member) return 'expired'
  return daysUntil(b.member_expired_at, now) <= EXPIRING_DAYS ? 'expiring' : 'active'
}

export const useWallet = defineStore('wallet', () => {
  const balance = ref<Balance | null>(null)
  const state = computed(() => memberState(balance.value))

  async function refresh(): Promise<Balance> {
    const b = await api.balance()
    balance.value = b
    return b
  }

  /** A reply that carries the new balance (generation done, refund) updates it without a request. */
  function setCredits(credits: number): void {
    if (balance.value) balance.value = { ...balance.value, credits }
  }

  function clear(): void {
    balance.value = null
  }

  return { balance, state, refresh, setCredits, clear }
})
