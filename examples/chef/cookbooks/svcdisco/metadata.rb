# frozen_string_literal: true

name 'svcdisco'
maintainer 'svcdisco'
description 'Service discovery from ZooKeeper through svcdisco instead of Chef search ' \
            '(svcdisco_provider, all_providers_for_service, provider_for_service, zk_connect_str; ' \
            'an opt-in ironfan compatibility layer)'
version '0.2.0'
# The project has no LICENSE file yet; Chef's value for "no license granted".
license 'All Rights Reserved'
source_url 'https://github.com/svcdisco/svcdisco/tree/main/examples/chef/cookbooks/svcdisco'
issues_url 'https://github.com/svcdisco/svcdisco/issues'
# compile_time on any resource and unified_mode need Chef 16.
chef_version '>= 16.0'
supports 'debian'
supports 'ubuntu'
