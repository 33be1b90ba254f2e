# ACK Pro (managed control plane) over the three zones, dual stack, Terway networking.

resource "alicloud_cs_managed_kubernetes" "main" {
  name                 = var.name
  cluster_spec         = "ack.pro.small"
  vswitch_ids          = alicloud_vswitch.nodes[*].id
  pod_vswitch_ids      = alicloud_vswitch.pods[*].id
  service_cidr         = "192.168.0.0/16"
  ip_stack             = "dual"
  new_nat_gateway      = false
  slb_internet_enabled = length(var.allowed_admin_cidrs) > 0
  deletion_protection  = true
  enable_rrsa          = true
  # Secrets in etcd encrypted with the KMS key (kms.tf).
  encryption_provider_key      = alicloud_kms_key.main.id
  control_plane_log_components = ["apiserver", "kcm", "scheduler", "ccm"]

  addons {
    name = "terway-eniip"
  }
  addons {
    name = "csi-plugin"
  }
  addons {
    name = "csi-provisioner"
  }
  # ALB Ingress: the HTTPS door (loadbalancers.tf).
  addons {
    name = "alb-ingress-controller"
  }
  addons {
    name = "logtail-ds"
  }
}

resource "alicloud_security_group" "nodes" {
  security_group_name = "${var.name}-nodes"
  vpc_id              = alicloud_vpc.main.id
  description         = "ACK nodes of ${var.name}"
}

# The node pool grows and shrinks with the pods' requests (cluster autoscaler).
resource "alicloud_cs_kubernetes_node_pool" "main" {
  cluster_id           = alicloud_cs_managed_kubernetes.main.id
  node_pool_name       = "${var.name}-default"
  vswitch_ids          = alicloud_vswitch.nodes[*].id
  instance_types       = var.node_instance_types
  security_group_ids   = [alicloud_security_group.nodes.id]
  system_disk_category = "cloud_essd"
  system_disk_size     = 80
  # Encrypted system disks.
  system_disk_encrypted = true
  image_type            = "AliyunLinux3"

  scaling_config {
    enable   = true
    min_size = var.node_pool_min
    max_size = var.node_pool_max
    type     = "cpu"
  }

  management {
    auto_repair  = true
    auto_upgrade = true
  }
}

# The kubeconfig the kubernetes provider and the module use.
locals {
  kubeconfig_path = "${path.root}/.kubeconfig-${var.name}"
}

data "alicloud_cs_cluster_credential" "main" {
  cluster_id                 = alicloud_cs_managed_kubernetes.main.id
  temporary_duration_minutes = 60
  output_file                = local.kubeconfig_path
}
