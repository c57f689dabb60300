"""The apiserver: Kubernetes REST and watch over the store."""
