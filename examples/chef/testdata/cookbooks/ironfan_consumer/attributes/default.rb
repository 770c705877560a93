# frozen_string_literal: true

default['ironfan_consumer']['dir'] = '/etc/ironfan_consumer'
default['ironfan_consumer']['exhibitor_url'] = 'http://exhibitor.example.com:8080'
