#include "system/broker/control_fence.h"

#include <algorithm>

namespace samsa::broker {

using protocol::ErrorCode;

ErrorCode ControlFence::admit(protocol::ControllerEpoch controller_epoch,
                              protocol::BrokerEpoch request_broker_epoch) {
  if (check_broker_epoch_ && !request_broker_epoch.is_none() && request_broker_epoch < broker_epoch_)
    return ErrorCode::stale_broker_epoch;
  if (check_controller_epoch_ && controller_epoch < controller_epoch_)
    return ErrorCode::stale_controller_epoch;
  // With the check off, a zombie's older epoch is obeyed and also lowers
  // nothing: the newest epoch seen stays what it was.
  controller_epoch_ = std::max(controller_epoch_, controller_epoch);
  return ErrorCode::none;
}

}  // namespace samsa::broker
