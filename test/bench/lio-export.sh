#!/bin/bash
# The floor of ControllerPublishVolume: the same LIO configfs writes the plugin
# makes (src/iscsi-target/lio.ts, "Order of creation"), by a shell script, without
# any of the plugin's reads and checks.
#   lio-export.sh up|down DEVICE BACKSTORE TARGET_IQN INITIATOR_IQN PORTAL
set -euo pipefail
action=$1 dev=$2 name=$3 iqn=$4 init=$5 portal=$6
C=/sys/kernel/config/target
B=$C/core/iblock_0/$name
T=$C/iscsi/$iqn/tpgt_1
case $action in
up)
  mkdir -p "$B"
  echo "udev_path=$dev" > "$B/control"
  echo -n "$dev" > "$B/udev_path"
  echo -n "$iqn" > "$B/alias"
  echo "$name" > "$B/wwn/vpd_unit_serial"
  echo 1 > "$B/enable"
  echo 1 > "$B/attrib/emulate_tpu"
  echo 1 > "$B/attrib/emulate_tpws"
  mkdir -p "$T"
  echo 0 > "$T/attrib/authentication"
  echo 0 > "$T/attrib/generate_node_acls"
  echo 0 > "$T/attrib/cache_dynamic_acls"
  echo 1 > "$T/attrib/demo_mode_write_protect"
  echo 0 > "$T/attrib/prod_mode_write_protect"
  mkdir "$T/lun/lun_0"
  ln -s "$B" "$T/lun/lun_0/$name"
  mkdir "$T/np/$portal"
  echo 1 > "$T/enable"
  mkdir "$T/acls/$init"
  mkdir "$T/acls/$init/lun_0"
  ln -s "$T/lun/lun_0" "$T/acls/$init/lun_0/link"
  echo 0 > "$T/acls/$init/lun_0/write_protect"
  ;;
down)
  rm "$T/acls/$init/lun_0/link"
  rmdir "$T/acls/$init/lun_0" "$T/acls/$init"
  echo 0 > "$T/enable"
  rmdir "$T/np/$portal"
  rm "$T/lun/lun_0/$name"
  rmdir "$T/lun/lun_0" "$T" "$C/iscsi/$iqn" "$B"
  ;;
*) echo "usage: $0 up|down DEVICE BACKSTORE IQN INITIATOR PORTAL" >&2; exit 2 ;;
esac
