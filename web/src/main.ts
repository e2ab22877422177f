import { createApp } from 'vue'
import { createPinia } from 'pinia'
import {
  ElAlert, ElButton, ElCard, ElConfigProvider, ElDialog, ElDrawer, ElEmpty, ElForm, ElFormItem, ElInput,
  ElOption, ElPagination, ElRadioButton, ElRadioGroup, ElSelect, ElTabPane, ElTable, ElTableColumn, ElTabs, ElTag,
  ElLoading,
} from 'element-plus'
import 'element-plus/dist/index.css'
import './style.css'
import App from './App.vue'
import { i18n } from './i18n'
import { router } from './router'
import { installUnauthorizedHandler } from './stores/auth'

const app = createApp(App)
for (const c of [
  ElAlert, ElButton, ElCard, ElConfigProvider, ElDialog, ElDrawer, ElEmpty, ElForm, ElFormItem, ElInput, ElOption,
  ElPagination, ElRadioButton, ElRadioGroup, ElSelect, ElTabPane, ElTable, ElTableColumn, ElTabs, ElTag,
]) {
  app.component(c.name as string, c)
}
app.use(ElLoading)
app.use(createPinia())
app.use(i18n)
app.use(router)
installUnauthorizedHandler(() => {
  const current = router.currentRoute.value
  if (current.meta.auth) void router.replace({ name: 'login', query: { redirect: current.fullPath } })
})
document.documentElement.lang = i18n.global.locale.value
app.mount('#app')
