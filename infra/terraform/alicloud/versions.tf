# The Alibaba Cloud layer under the Kubernetes module (../): it makes the network, the
# cluster, the managed PostgreSQL, Redis, load balancers, buckets and keys, and hands
# the module what it takes — URLs, endpoints, names — and nothing cloud-specific beyond
# annotations. Another cloud's layer replaces this directory and calls ../ the same way.

terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    alicloud = {
      source  = "aliyun/alicloud"
      version = ">= 1.230.0, < 2.0.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = ">= 2.31.0, < 3.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.6.0, < 4.0.0"
    }
    tls = {
      source  = "hashicorp/tls"
      version = ">= 4.0.0, < 5.0.0"
    }
  }

  # State holds database and Redis passwords: keep it in an OSS backend with KMS
  # encryption and a Tablestore lock (README.md, "State"), never on a laptop.
}

provider "alicloud" {
  region = var.region
}

# The cluster's API, once ACK exists (the first apply targets the cloud resources:
# README.md, "Two steps").
provider "kubernetes" {
  config_path = local.kubeconfig_path
}
