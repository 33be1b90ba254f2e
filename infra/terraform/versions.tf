terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.31.0, < 3.0.0"
    }
    # Generates IDNEST_SECRET_KEY when none is given.
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
    # Generates the wire server's RSA key (HS_SITE) when none is given.
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0.0, < 5.0.0"
    }
  }

  # State holds the database URL, the secret key and the wire key. For anything but a
  # trial, add a backend block (backend.tf) for an encrypted, access-controlled bucket
  # of your cloud (README.md, "State").
}

provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}
