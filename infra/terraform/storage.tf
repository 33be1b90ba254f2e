# IDNEST_VAR_DIR on a volume every HTTP and worker pod mounts: a bulk upload is written
# by the HTTP pod that received it and read by whichever worker takes the job
# (docs/registry.md, "Scale-out note"). Mail files land here too when no SMTP host is set.

resource "kubernetes_persistent_volume_claim_v1" "var" {
  metadata {
    name      = "${var.name}-var"
    namespace = local.namespace
    labels    = local.labels
  }

  spec {
    access_modes       = ["ReadWriteMany"]
    storage_class_name = var.storage_class_name

    resources {
      requests = {
        storage = var.shared_storage_size
      }
    }
  }

  # Classes with volumeBindingMode WaitForFirstConsumer bind when the first pod starts.
  wait_until_bound = false
}
