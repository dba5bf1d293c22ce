"""What the sender transport counts (plain ints, so a call can sum them into its summary)."""

from __future__ import annotations

from dataclasses import dataclass

from ratecontrol.feedback_guard import Refusal


@dataclass
class SenderStats:
    packets_sent: int = 0  # handed to the wire, resends included
    bytes_sent: int = 0  # their sizes as given to send_media (the caller's wire size)
    feedback_received: int = 0  # feedback events of every kind, refused ones included
    feedback_ignored: int = 0  # transport-cc and REMB with no controller to hear them
    keyframe_requests: int = 0  # PLIs
    retransmissions: int = 0  # NACKed packets the rule granted
    retransmissions_refused: int = 0  # NACKed packets too old, or resent within an RTT
    refused_unsent_ack: int = 0  # feedback refused, by reason (ratecontrol.feedback_guard)
    refused_loss_unvouched: int = 0
    refused_arrival_before_send: int = 0
    refused_arrival_after_feedback: int = 0
    refused_arrival_backwards: int = 0
    refused_unsent_nack: int = 0
    refused_remb: int = 0
    refused_loss_report: int = 0

    def count_refusal(self, refusal: Refusal) -> None:
        match refusal:
            case Refusal.UNSENT_ACK:
                self.refused_unsent_ack += 1
            case Refusal.LOSS_UNVOUCHED:
                self.refused_loss_unvouched += 1
            case Refusal.ARRIVAL_BEFORE_SEND:
                self.refused_arrival_before_send += 1
            case Refusal.ARRIVAL_AFTER_FEEDBACK:
                self.refused_arrival_after_feedback += 1
            case Refusal.ARRIVAL_BACKWARDS:
                self.refused_arrival_backwards += 1
            case Refusal.UNSENT_NACK:
                self.refused_unsent_nack += 1
            case Refusal.REMB:
                self.refused_remb += 1
            case Refusal.LOSS_REPORT:
                self.refused_loss_report += 1

    @property
    def feedback_refused(self) -> int:
        return (self.refused_unsent_ack + self.refused_loss_unvouched
                + self.refused_arrival_before_send
                + self.refused_arrival_after_feedback + self.refused_arrival_backwards
                + self.refused_unsent_nack + self.refused_remb + self.refused_loss_report)
