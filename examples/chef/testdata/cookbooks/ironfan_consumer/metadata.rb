# frozen_string_literal: true

name 'ironfan_consumer'
description 'A consumer cookbook written for ironfan / silverware, run unchanged on svcdisco'
version '0.1.0'
license 'All Rights Reserved'
chef_version '>= 16.0'
depends 'svcdisco'
