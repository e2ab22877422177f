/// <reference types="vitest" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// `npm run dev` proxies the API to a running `make run` (PORT 8080 by default).
const api = process.env.INKSTONE_API ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    // Hashed file names under assets/ are what nginx caches for a year.
    sourcemap: false,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks: { vendor: ['vue', 'vue-router', 'pinia', 'vue-i18n'], ui: ['element-plus'] },
      },
    },
  },
  server: { proxy: { '/api/': api } },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
  },
})
