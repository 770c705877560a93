# frozen_string_literal: true

name 'svcdisco'
maintainer 'svcdisco'
description 'Service discovery from ZooKeeper through svcdisco instead of Chef search ' \
            '(all_providers_for_service, provider_for_service, provide_service, zk_connect_str)'
version '0.1.0'
# notify_group (used in the README's provide_service example) needs 15.8.
chef_version '>= 15.8'
supports 'debian'
supports 'ubuntu'
