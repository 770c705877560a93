# frozen_string_literal: true

#
# Cookbook:: svcdisco
# Recipe:: ironfan_compat
#
# Opt-in compatibility with ironfan / silverware recipes: after
#   include_recipe 'svcdisco::ironfan_compat'
# their discovery calls (all_providers_for_service, provider_for_service,
# provider_private_ip, announce, discover, discover_zookeepers, ...) are
# answered by svcdisco, returning objects that read like the Chef nodes
# search used to return. See Svcdisco::IronfanCompat and the README's
# compatibility table.

Svcdisco::IronfanCompat.activate!
