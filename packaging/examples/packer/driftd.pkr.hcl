# Bake a driftd baseline into an AMI, two ways. The signing key never
# enters the image:
#   - amazon-chroot (preferred): the build host mounts the new volume and
#     runs `driftd bake --root` on it; the key stays on the build host.
#   - amazon-ebs: the build instance bakes itself; the key is uploaded to
#     /dev/shm (RAM, not the volume the AMI is made from) and shredded at once.
# In both, `driftd bake` is the very last step, after the builder's
# temporary SSH key is removed: anything changed after the bake would be
# drift on every instance.
#
#   packer build -var driftd_deb=driftd_1.0.0_amd64.deb -var signing_key=/secure/driftd.key driftd.pkr.hcl

packer {
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = ">= 1.3.0"
    }
  }
}

variable "region" {
  type    = string
  default = "eu-west-1"
}
variable "driftd_deb" {
  type        = string
  description = "The driftd .deb to install (make package)."
}
variable "signing_key" {
  type        = string
  sensitive   = true
  description = "Path of driftd's private signing key on the build host (driftd keygen). Its .pub goes into the image."
}
variable "image_version" {
  type    = string
  default = "2026.11.28"
}

data "amazon-ami" "debian" {
  region      = var.region
  owners      = ["136693071363"] # Debian
  most_recent = true
  filters = {
    name                = "debian-12-amd64-*"
    virtualization-type = "hvm"
  }
}

source "amazon-ebs" "web" {
  region        = var.region
  source_ami    = data.amazon-ami.debian.id
  instance_type = "t3.small"
  ssh_username  = "admin"
  ami_name      = "web-${var.image_version}-{{timestamp}}"
}

source "amazon-chroot" "web" {
  region      = var.region
  source_ami  = data.amazon-ami.debian.id
  ami_name    = "web-chroot-${var.image_version}-{{timestamp}}"
  # A fixed mount path, so that the bake below can name it: one build at a
  # time on this build host.
  mount_path  = "/mnt/packer-chroot/web"
}

build {
  name = "web-ebs"
  sources = ["source.amazon-ebs.web"]

  provisioner "file" {
    source      = var.driftd_deb
    destination = "/tmp/driftd.deb"
  }
  provisioner "file" {
    source      = "${var.signing_key}.pub"
    destination = "/tmp/driftd.pub"
  }
  provisioner "shell" {
    inline = [
      "sudo apt-get update -qq",
      # ... the image's own provisioning goes here ...
      "sudo dpkg -i /tmp/driftd.deb",   # enables driftd; it starts on the instances, not here
      "sudo install -m 0644 /tmp/driftd.pub /etc/driftd/baseline.pub",
      "rm -f /tmp/driftd.deb /tmp/driftd.pub",
      "sudo apt-get clean",
    ]
  }
  # The private key goes to RAM only.
  provisioner "file" {
    source      = var.signing_key
    destination = "/dev/shm/driftd.key"
  }
  # The very last step: remove Packer's temporary SSH key (the session stays
  # open), then bake, then shred the signing key.
  provisioner "shell" {
    inline = [
      "sed -i '/packer/d' ~/.ssh/authorized_keys && [ -s ~/.ssh/authorized_keys ] || rm -f ~/.ssh/authorized_keys",
      "sudo driftd bake --key /dev/shm/driftd.key --out /etc/driftd/baseline.manifest --label image=web --label version=${var.image_version}",
      "shred -u /dev/shm/driftd.key",
    ]
  }
}

build {
  name = "web-chroot"
  sources = ["source.amazon-chroot.web"]

  provisioner "file" {
    source      = var.driftd_deb
    destination = "/tmp/driftd.deb"
  }
  provisioner "shell" {
    inline = [
      "dpkg -i /tmp/driftd.deb",
      "rm -f /tmp/driftd.deb",
    ]
  }
  provisioner "file" {
    source      = "${var.signing_key}.pub"
    destination = "/etc/driftd/baseline.pub"
  }
  # The very last step, on the build host, outside the chroot: the key
  # never enters the image. (A chroot build logs into nothing, so there is
  # no builder SSH key to remove.) driftd must be installed on the build
  # host too.
  provisioner "shell-local" {
    inline = [
      "driftd bake --root /mnt/packer-chroot/web --key ${var.signing_key} --out /mnt/packer-chroot/web/etc/driftd/baseline.manifest --label image=web --label version=${var.image_version}",
    ]
  }
}
